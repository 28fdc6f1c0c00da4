package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/latchauth/latch/internal/token"
)

var b64 = base64.RawURLEncoding

func encodeSegment(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b64.EncodeToString(b)
}

// attackTokens forges tokens from a real one: each must be refused.
func attackTokens(t *testing.T, h *harness, real string) map[string]string {
	t.Helper()
	parts := strings.Split(real, ".")
	hdr, claims := jwtParts(t, real)
	kid := hdr["kid"].(string)
	var jwks struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(h.tokens.JWKS(), &jwks); err != nil {
		t.Fatal(err)
	}
	hs256 := func(secret []byte) string {
		head := encodeSegment(t, map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": kid})
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(head + "." + parts[1]))
		return head + "." + parts[1] + "." + b64.EncodeToString(m.Sum(nil))
	}
	edited := map[string]any{}
	for k, v := range claims {
		edited[k] = v
	}
	edited["sub"] = "00000000-0000-7000-8000-000000000000"
	foreign, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	foreignSig := func() string {
		input := parts[0] + "." + parts[1]
		d := sha256.Sum256([]byte(input))
		r, s, err := ecdsa.Sign(rand.Reader, foreign, d[:])
		if err != nil {
			t.Fatal(err)
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return input + "." + b64.EncodeToString(sig)
	}
	sigTooLong := func() string {
		// ES256 signatures are exactly 64 bytes of r||s (RFC 7518 §3.4).
		sig, _ := b64.DecodeString(parts[2])
		return parts[0] + "." + parts[1] + "." + b64.EncodeToString(append(sig, 0))
	}
	withHeader := func(extra map[string]any) string {
		hd := map[string]any{}
		for k, v := range hdr {
			hd[k] = v
		}
		for k, v := range extra {
			hd[k] = v
		}
		return encodeSegment(t, hd) + "." + parts[1] + "." + parts[2]
	}
	return map[string]string{
		// RFC 8725 §3.1: never accept "none", in any spelling.
		"alg none": encodeSegment(t, map[string]any{"alg": "none", "typ": "at+jwt", "kid": kid}) + "." + parts[1] + ".",
		"alg None": encodeSegment(t, map[string]any{"alg": "None", "typ": "at+jwt", "kid": kid}) + "." + parts[1] + ".",
		"alg NONE": encodeSegment(t, map[string]any{"alg": "NONE", "typ": "at+jwt", "kid": kid}) + "." + parts[1] + ".",
		// RFC 8725 §2.1/§3.1: HMAC keyed with the public key.
		"HS256 with the public JWK": hs256(jwks.Keys[0]),
		"HS256 with the JWKS":       hs256(h.tokens.JWKS()),
		"signature removed":         parts[0] + "." + parts[1] + ".",
		"payload edited":            parts[0] + "." + encodeSegment(t, edited) + "." + parts[2],
		"foreign key, our kid":      foreignSig(),
		"signature too long":        sigTooLong(),
		"unknown kid":               withHeader(map[string]any{"kid": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}),
		"path-like kid":             withHeader(map[string]any{"kid": "../../../../etc/passwd"}),
		"huge kid":                  withHeader(map[string]any{"kid": strings.Repeat("k", 10_000)}),
		// RFC 9068 §4: typ must be at+jwt.
		"typ JWT": withHeader(map[string]any{"typ": "JWT"}),
		// RFC 8725 §3.10: key material named by the token is never used.
		"jku header":     withHeader(map[string]any{"jku": "http://127.0.0.1:1/jwks.json"}),
		"embedded jwk":   withHeader(map[string]any{"jwk": map[string]any{"kty": "EC", "crv": "P-256"}}),
		"crit header":    withHeader(map[string]any{"crit": []string{"exp"}}),
		"two segments":   parts[0] + "." + parts[1],
		"four segments":  real + "." + parts[2],
		"bad base64":     parts[0] + ".!!!." + parts[2],
		"padded base64":  parts[0] + "=." + parts[1] + "." + parts[2],
		"empty":          "..",
		"huge token":     parts[0] + "." + strings.Repeat("A", 20_000) + "." + parts[2],
		"refresh token":  "lrt_" + strings.Repeat("A", 43),
		"lower-case typ": withHeader(map[string]any{"typ": "at+JWT", "alg": "RS256"}),
	}
}

// Every forged token is refused by latch's own endpoints with 401
// invalid_token (RFC 6750 §3.1), and by introspection as inactive.
func TestAttackTokensRefused(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		tk := h.signup("victim@example.com")
		want(t, h.do("GET", "/v1/user", tk.access, nil), http.StatusOK, "")
		for name, forged := range attackTokens(t, h, tk.access) {
			t.Run(name, func(t *testing.T) {
				r := h.do("GET", "/v1/user", forged, nil)
				if r.status != http.StatusUnauthorized {
					t.Fatalf("GET /v1/user: got %d %s, want 401", r.status, r.body)
				}
				r = h.do("POST", "/v1/introspect", testAdminKey, map[string]any{"token": forged})
				if got := strings.TrimSpace(string(r.body)); got != `{"active":false}` {
					t.Fatalf("introspection: got %s", got)
				}
			})
		}
	}, withEnv("LATCH_ADMIN_KEY", testAdminKey))
}

// A token signed with latch's own key but for another issuer or audience
// is refused (RFC 8725 §3.8, §3.9; RFC 9068 §4).
func TestForeignIssuerAndAudienceRefused(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		tk := h.signup("aud@example.com")
		_, claims := jwtParts(t, tk.access)
		sealer, err := token.NewSealer([]byte("test-secret-key-0123456789abcdef0123456789"))
		if err != nil {
			t.Fatal(err)
		}
		for name, opts := range map[string]token.Options{
			"other issuer":   {Issuer: "https://evil.example.com", Audience: h.cfg.Tokens.Audience},
			"other audience": {Issuer: h.cfg.HTTP.PublicURL, Audience: []string{"https://other-api.example.com"}},
		} {
			t.Run(name, func(t *testing.T) {
				opts.Algorithm, opts.Now, opts.ClientID = "ES256", h.clock.Now, "latch"
				other, err := token.NewManager(h.db, sealer, opts, slog.New(slog.DiscardHandler))
				if err != nil {
					t.Fatal(err)
				}
				if err := other.Init(context.Background()); err != nil {
					t.Fatal(err)
				}
				raw, _, err := other.Issue(token.Claims{Subject: tk.userID, SessionID: claims["sid"].(string), AMR: []string{"pwd"}, AAL: "aal1"})
				if err != nil {
					t.Fatal(err)
				}
				want(t, h.do("GET", "/v1/user", raw, nil), http.StatusUnauthorized, "invalid_token")
			})
		}
	})
}
