package main

import (
	"encoding/base64"
	"testing"
)

// RFC 7636 Appendix B: these 32 octets encode to the verifier, whose S256
// challenge is the one given there.
func TestChallengeS256RFC7636AppendixB(t *testing.T) {
	octets := []byte{116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173,
		187, 186, 22, 212, 37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121}
	const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	if got := base64.RawURLEncoding.EncodeToString(octets); got != verifier {
		t.Errorf("verifier %q, want %q", got, verifier)
	}
	if got := challengeS256(verifier); got != challenge {
		t.Errorf("challenge %q, want %q", got, challenge)
	}
}

func TestNewVerifier(t *testing.T) {
	a, b := newVerifier(), newVerifier()
	raw, err := base64.RawURLEncoding.DecodeString(a)
	if err != nil || len(raw) != 32 || len(a) != 43 {
		t.Errorf("verifier %q: %d bytes, %d characters, err %v; want 32 bytes of base64url, 43 characters", a, len(raw), len(a), err)
	}
	if a == b {
		t.Errorf("two verifiers are both %q", a)
	}
}

func TestCheckState(t *testing.T) {
	for _, tc := range []struct {
		name, got, want string
		ok              bool
	}{
		{"same", "s3cr3t-state", "s3cr3t-state", true},
		{"different", "s3cr3t-statf", "s3cr3t-state", false},
		{"missing", "", "s3cr3t-state", false},
		{"prefix", "s3cr3t", "s3cr3t-state", false},
		{"both empty", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := checkState(tc.got, tc.want); (err == nil) != tc.ok {
				t.Errorf("checkState(%q, %q) = %v, want ok %v", tc.got, tc.want, err, tc.ok)
			}
		})
	}
}

func TestCheckIssuer(t *testing.T) {
	const latch = "http://localhost:8080"
	for _, tc := range []struct {
		name     string
		got      string
		required bool
		ok       bool
	}{
		{"same", latch, true, true},
		{"same, not promised", latch, false, true},
		{"another server", "http://evil.example", true, false},
		{"another server, not promised", "http://evil.example", false, false},
		{"trailing slash is another issuer", latch + "/", true, false},
		{"missing but promised", "", true, false},
		{"missing, not promised", "", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := checkIssuer(tc.got, latch, tc.required); (err == nil) != tc.ok {
				t.Errorf("checkIssuer(%q, %q, %v) = %v, want ok %v", tc.got, latch, tc.required, err, tc.ok)
			}
		})
	}
}

func TestRedirectURI(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:3000": "http://127.0.0.1:3000/callback",
		"[::1]:3000":     "http://[::1]:3000/callback",
		"localhost:4000": "http://localhost:4000/callback",
		":3000":          "",
		"0.0.0.0:3000":   "",
		"127.0.0.1":      "",
	} {
		got, err := redirectURI(addr)
		if got != want || (err == nil) != (want != "") {
			t.Errorf("redirectURI(%q) = %q, %v; want %q", addr, got, err, want)
		}
	}
}
