package token

import (
	"context"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// Another JOSE implementation (lestrrat-go/jwx) verifies latch's tokens
// against the JWKS document latch publishes, as resource servers in other
// languages and libraries will (RFC 9068 §4; RFC 7517 §5).
func TestInteropJWX(t *testing.T) {
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			fx := newFixture(t, alg)
			raw, issued := mustIssue(t, fx.m, Claims{Subject: "user-1", SessionID: "sess-1", AMR: []string{"pwd"}, Email: "ada@example.com"})
			set, err := jwk.Parse(fx.m.JWKS())
			if err != nil {
				t.Fatalf("jwx cannot parse latch's JWKS: %v", err)
			}
			if got := set.Len(); got != 2 {
				t.Errorf("jwx JWKS keys: got %d, want 2", got)
			}
			clock := jwt.ClockFunc(func() time.Time { return fx.clock.Now() })
			tok, err := jwt.Parse([]byte(raw),
				jwt.WithKeySet(set),
				jwt.WithValidate(true),
				jwt.WithClock(clock),
				jwt.WithIssuer(testIssuer),
				jwt.WithAudience(testAudience),
				jwt.WithRequiredClaim("sid"),
			)
			if err != nil {
				t.Fatalf("jwx refuses latch's token: %v", err)
			}
			if sub, _ := tok.Subject(); sub != "user-1" {
				t.Errorf("sub via jwx: got %q, want user-1", sub)
			}
			if exp, _ := tok.Expiration(); !exp.Equal(issued.ExpiresAt) {
				t.Errorf("exp via jwx: got %v, want %v", exp, issued.ExpiresAt)
			}
			var sid string
			if err := tok.Get("sid", &sid); err != nil || sid != "sess-1" {
				t.Errorf("sid via jwx: got %q (%v), want sess-1", sid, err)
			}

			msg, err := jws.Parse([]byte(raw))
			if err != nil {
				t.Fatal(err)
			}
			h := msg.Signatures()[0].ProtectedHeaders()
			if typ, _ := h.Type(); typ != "at+jwt" {
				t.Errorf("typ via jwx: got %q, want at+jwt", typ)
			}
			if kid, _ := h.KeyID(); kid != fx.current().id {
				t.Errorf("kid via jwx: got %q, want %q", kid, fx.current().id)
			}

			// And jwx, like latch, refuses it once expired.
			fx.clock.Advance(time.Hour)
			if _, err := jwt.Parse([]byte(raw), jwt.WithKeySet(set), jwt.WithValidate(true), jwt.WithClock(clock)); err == nil {
				t.Error("jwx accepted an expired token")
			}
			if _, err := fx.m.Verify(context.Background(), raw); err == nil {
				t.Error("latch accepted an expired token")
			}
		})
	}
}
