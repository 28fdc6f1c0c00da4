package token

import (
	"context"
	"errors"
	"testing"
)

// FuzzVerify: whatever the input, Verify does not panic, fails only with
// ErrInvalidToken, and accepts nothing but the tokens latch issued
// (RFC 8725 §3.3, §3.4; ASVS 5.0 V9.1.1). The seeds are valid tokens and
// every attack of TestVerifyRefusesAttacks.
func FuzzVerify(f *testing.F) {
	fx := newFixture(f, ES256)
	issued := map[string]bool{}
	for _, c := range []Claims{
		{Subject: "u", SessionID: "s"},
		{Subject: "0190c3d8-7a4e-7c3b-9a1e-3f5d2b8c9e01", SessionID: "0190c3d8-7a4e-7c3b-9a1e-3f5d2b8c9e02", AMR: []string{"pwd"}, AAL: "aal1", Email: "ada@example.com", EmailVerified: true, Scope: "a b"},
	} {
		raw, _ := mustIssue(f, fx.m, c)
		issued[raw] = true
		f.Add(raw)
	}
	for _, a := range attacks() {
		f.Add(a.tok(f, fx))
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := fx.m.Verify(ctx, raw)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("got error %v, want one wrapping ErrInvalidToken", err)
			}
			return
		}
		if !issued[raw] {
			t.Fatalf("accepted a token latch did not issue: %q → %+v", raw, c)
		}
	})
}
