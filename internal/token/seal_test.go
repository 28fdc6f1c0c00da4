package token

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// Signing keys are sealed at rest with AES-GCM (DESIGN.md "Tokens"; ASVS
// 5.0 V11.3: approved authenticated encryption).
func TestSealerRoundTrip(t *testing.T) {
	s := testSealer(t)
	for _, plain := range [][]byte{nil, {}, []byte("x"), bytes.Repeat([]byte("k"), 5000)} {
		sealed, err := s.Seal(plain, []byte("kid-1"))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := len(sealed), 1+12+len(plain)+16; got != want {
			t.Errorf("sealed length: got %d, want %d (version, nonce, ciphertext, tag)", got, want)
		}
		if sealed[0] != sealVersion {
			t.Errorf("version byte: got %d, want %d", sealed[0], sealVersion)
		}
		got, err := s.Open(sealed, []byte("kid-1"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if !bytes.Equal(got, plain) {
			t.Errorf("Open: got %q, want %q", got, plain)
		}
	}
	a, _ := s.Seal([]byte("same"), nil)
	b, _ := s.Seal([]byte("same"), nil)
	if bytes.Equal(a, b) {
		t.Error("two seals of one plaintext are equal, want fresh nonces")
	}
}

// Any change to a sealed value, its row (aad) or the secret must fail
// (RFC 5116 §2.2 authenticated decryption; ASVS 5.0 V11.3).
func TestSealerRefuses(t *testing.T) {
	s := testSealer(t)
	sealed, err := s.Seal([]byte("private key"), []byte("kid-1"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewSealer([]byte("another secret key of 32 bytes!!"))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 1
		return b
	}
	tests := []struct {
		name   string
		sealer *Sealer
		sealed []byte
		aad    string
	}{
		{"version byte changed", s, flip(0), "kid-1"},
		{"nonce changed", s, flip(5), "kid-1"},
		{"ciphertext changed", s, flip(14), "kid-1"},
		{"tag changed", s, flip(len(sealed) - 1), "kid-1"},
		{"truncated", s, sealed[:len(sealed)-1], "kid-1"},
		{"too short", s, sealed[:10], "kid-1"},
		{"empty", s, nil, "kid-1"},
		{"wrong aad (sealed key moved to another row)", s, sealed, "kid-2"},
		{"missing aad", s, sealed, ""},
		{"wrong secret", other, sealed, "kid-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.sealer.Open(tt.sealed, []byte(tt.aad))
			if err == nil {
				t.Fatalf("Open: got %q, nil error; want an error", got)
			}
		})
	}
}

// The secret must carry at least 256 bits, the AES-256 key's strength
// (NIST SP 800-57 Part 1 §5.6.1).
func TestNewSealerShortSecret(t *testing.T) {
	for _, n := range []int{0, 1, 16, 31} {
		if _, err := NewSealer(bytes.Repeat([]byte{7}, n)); err == nil {
			t.Errorf("NewSealer(%d bytes): got nil error, want one", n)
		}
	}
	if _, err := NewSealer(bytes.Repeat([]byte{7}, 32)); err != nil {
		t.Errorf("NewSealer(32 bytes): got %v, want nil", err)
	}
}

// MAC keys are separated by purpose and derived from the secret
// (domain separation, RFC 5869 §3.2).
func TestSealerMAC(t *testing.T) {
	s := testSealer(t)
	other, _ := NewSealer([]byte("another secret key of 32 bytes!!"))
	a := s.MAC("refresh-token successor", []byte("lrt_parent"))
	if len(a) != 32 {
		t.Fatalf("MAC length: got %d, want 32", len(a))
	}
	if b := s.MAC("refresh-token successor", []byte("lrt_parent")); !bytes.Equal(a, b) {
		t.Error("MAC is not deterministic")
	}
	for name, b := range map[string][]byte{
		"other data":    s.MAC("refresh-token successor", []byte("lrt_other")),
		"other purpose": s.MAC("email verification", []byte("lrt_parent")),
		"other secret":  other.MAC("refresh-token successor", []byte("lrt_parent")),
	} {
		if bytes.Equal(a, b) {
			t.Errorf("%s: got the same MAC, want a different one", name)
		}
	}
}

// Secrets must not reach logs by accident (STYLE.md convention 11).
func TestSealerRedacted(t *testing.T) {
	s := testSealer(t)
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "sealer", s)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", s), buf.String()} {
		if !strings.Contains(out, "REDACTED") || strings.Contains(out, "prk") {
			t.Errorf("got %q, want a redacted form", out)
		}
	}
}
