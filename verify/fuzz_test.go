package verify

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/clocktest"
)

// FuzzVerify feeds Verify mutations of a valid token and of the attacks
// in TestVerifyRefusesAttacks. Verify must never panic, and must accept
// nothing but the valid tokens themselves: with canonical base64url
// (RFC 7515 §2) and the signature over header and payload (RFC 7515
// §5.2), any change to a token must be refused.
func FuzzVerify(f *testing.F) {
	es, ed, rs := newKey(f, ES256, "a"), newKey(f, EdDSA, "a"), newKey(f, RS256, "a")
	evil := newKey(f, ES256, "attacker")
	iss := newFakeIssuer(f, es, ed, rs)
	v := startVerifier(f, iss, clocktest.New(t0), nil)
	valid := map[string]bool{}
	for _, k := range []*testKey{es, ed, rs} {
		tok := k.sign(f, iss.claims(map[string]any{"scope": "read:things"}), nil)
		valid[tok] = true
		f.Add(tok)
	}
	good := es.sign(f, iss.claims(nil), nil)
	valid[good] = true
	s := strings.Split(good, ".")
	payload, err := json.Marshal(iss.claims(map[string]any{"sub": "admin"}))
	if err != nil {
		f.Fatal(err)
	}
	pem := []byte("-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n")
	for _, seed := range []string{
		b64url(`{"alg":"none","kid":"a-ES256","typ":"at+jwt"}`) + "." + s[1] + ".",
		b64url(`{"alg":"NONE","kid":"a-ES256","typ":"at+jwt"}`) + "." + s[1] + "." + s[2],
		hmacToken(f, pem, es.kid, iss.claims(nil)),
		s[0] + "." + s[1] + ".",
		s[0] + "." + b64url(string(payload)) + "." + s[2],
		withKid(evil, es.kid).sign(f, iss.claims(nil), nil),
		evil.sign(f, iss.claims(nil), map[string]any{"jku": iss.url()}),
		withKid(evil, "../../etc/passwd").sign(f, iss.claims(nil), nil),
		es.sign(f, iss.claims(map[string]any{"iss": "https://evil.example"}), nil),
		es.sign(f, iss.claims(map[string]any{"aud": nil}), nil),
		es.sign(f, iss.claims(nil), map[string]any{"typ": "JWT"}),
		es.sign(f, iss.claims(map[string]any{"exp": t0.Add(-time.Hour).Unix()}), nil),
		es.sign(f, iss.claims(nil), map[string]any{"crit": []string{"x"}, "x": 1}),
		s[0] + "." + s[1],
		good + "." + s[2],
		s[0] + "==." + s[1] + "." + s[2],
		es.sign(f, iss.claims(map[string]any{"pad": strings.Repeat("x", MaxTokenSize)}), nil),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := v.Verify(context.Background(), raw)
		if err == nil && !valid[raw] {
			t.Fatalf("Verify accepted a token that no key signed:\n%q", raw)
		}
		if err == nil && c == nil {
			t.Fatalf("Verify returned neither claims nor an error")
		}
		if err != nil && c != nil {
			t.Fatalf("Verify returned claims with error %v", err)
		}
	})
}
