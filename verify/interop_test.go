package verify

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchauth/latch/internal/clocktest"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// TestInteropJWX verifies tokens signed by lestrrat-go/jwx, a JOSE
// library independent of go-jose and of this package, so that Verify
// reads RFC 7515 as others write it, not only as its own tests do.
func TestInteropJWX(t *testing.T) {
	tests := []struct {
		alg   string
		jwa   jwa.SignatureAlgorithm
		typ   string
		scope string
	}{
		{ES256, jwa.ES256(), "at+jwt", ""},
		{EdDSA, jwa.EdDSA(), "application/at+jwt", "read:things"},
		{RS256, jwa.RS256(), "at+JWT", ""},
	}
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			k := newKey(t, tt.alg, "jwx")
			f := newFakeIssuer(t, k)
			v := startVerifier(t, f, clocktest.New(t0), nil)

			b := jwt.NewBuilder().
				Issuer(f.url()).
				Subject("0b5e1f0e-8a43-4b69-9c3a-2f6f2f9c6d11").
				Audience([]string{testAudience}).
				Expiration(t0.Add(15*time.Minute)).
				IssuedAt(t0).
				JwtID("3TW5NWYQVZ7O4ASLHGJQ2XK2FA").
				Claim("client_id", "latch").
				Claim("sid", "7c9f4e0c-1d5b-4a39-8f1e-0d6a2b3c4d5e").
				Claim("amr", []string{"pwd"}).
				Claim("aal", "aal1").
				Claim("auth_time", t0.Add(-time.Minute).Unix()).
				Claim("email", "alice@example.com").
				Claim("email_verified", true)
			if tt.scope != "" {
				b = b.Claim("scope", tt.scope)
			}
			tok, err := b.Build()
			if err != nil {
				t.Fatal(err)
			}
			hdr := jws.NewHeaders()
			if err := hdr.Set(jws.KeyIDKey, k.kid); err != nil {
				t.Fatal(err)
			}
			if err := hdr.Set(jws.TypeKey, tt.typ); err != nil {
				t.Fatal(err)
			}
			raw, err := jwt.Sign(tok, jwt.WithKey(tt.jwa, k.priv, jws.WithProtectedHeaders(hdr)))
			if err != nil {
				t.Fatalf("jwx Sign: %v", err)
			}
			got, err := v.Verify(context.Background(), string(raw))
			if err != nil {
				t.Fatalf("Verify of a jwx %s token: %v\n%s", tt.alg, err, raw)
			}
			want := wantClaims(f)
			want.Scope = tt.scope
			if diff := cmp.Diff(want, got, ignorePayload); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
		})
	}
}
