package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestRouterErrorsAreJSON(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		want(t, h.do("GET", "/nope", "", nil), http.StatusNotFound, "not_found")
		want(t, h.do("GET", "/v1/signups", "", nil), http.StatusNotFound, "not_found")
		r := h.do("GET", "/v1/token", "", nil)
		want(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
		if got := r.header.Get("Allow"); got != "POST" {
			t.Errorf("Allow: got %q, want POST", got)
		}
		r = h.do("PUT", "/v1/user", "", nil)
		want(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
		if got := r.header.Get("Allow"); got != "GET, HEAD, PATCH" {
			t.Errorf("Allow: got %q, want GET, HEAD, PATCH", got)
		}
	})
}

// ASVS 5.0 V3.4: security headers on every answer, errors included.
func TestSecurityHeaders(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		for _, path := range []string{"/healthz", "/nope", "/v1/user", "/.well-known/jwks.json"} {
			r := h.do("GET", path, "", nil)
			for k, v := range map[string]string{
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "no-referrer",
				"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
			} {
				if got := r.header.Get(k); got != v {
					t.Errorf("%s %s: got %q, want %q", path, k, got, v)
				}
			}
			if r.header.Get("X-Request-Id") == "" {
				t.Errorf("%s: no X-Request-Id", path)
			}
		}
		r := h.do("GET", "/healthz", "", nil, "X-Request-Id", "abc-123")
		if got := r.header.Get("X-Request-Id"); got != "abc-123" {
			t.Errorf("X-Request-Id echo: got %q", got)
		}
		r = h.do("GET", "/healthz", "", nil, "X-Request-Id", "evil\"value with spaces")
		if got := r.header.Get("X-Request-Id"); strings.Contains(got, " ") {
			t.Errorf("unsafe X-Request-Id echoed: %q", got)
		}
	})
}

func TestWellKnown(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		r := h.do("GET", "/.well-known/jwks.json", "", nil)
		want(t, r, http.StatusOK, "")
		var jwks struct {
			Keys []map[string]any `json:"keys"`
		}
		if err := json.Unmarshal(r.body, &jwks); err != nil {
			t.Fatal(err)
		}
		// A fresh install publishes its current and its next key.
		if len(jwks.Keys) != 2 {
			t.Fatalf("JWKS keys: got %d, want 2 (current and next): %s", len(jwks.Keys), r.body)
		}
		for _, k := range jwks.Keys {
			if k["kty"] != "EC" || k["alg"] != "ES256" || k["use"] != "sig" || k["kid"] == "" {
				t.Errorf("JWK: %v", k)
			}
			if _, ok := k["d"]; ok {
				t.Fatalf("JWKS publishes a private key: %v", k)
			}
		}
		if !strings.Contains(r.header.Get("Cache-Control"), "max-age=") {
			t.Errorf("JWKS Cache-Control: got %q, want a max-age", r.header.Get("Cache-Control"))
		}
		tk := h.signup("jwks@example.com")
		hdr, _ := jwtParts(t, tk.access)
		found := false
		for _, k := range jwks.Keys {
			found = found || k["kid"] == hdr["kid"]
		}
		if !found {
			t.Errorf("the signing kid %v is not in the JWKS", hdr["kid"])
		}

		r = h.do("GET", "/.well-known/openid-configuration", "", nil)
		want(t, r, http.StatusOK, "")
		d := r.json(t)
		for k, v := range map[string]string{
			"issuer":                 "http://localhost:8080",
			"jwks_uri":               "http://localhost:8080/.well-known/jwks.json",
			"token_endpoint":         "http://localhost:8080/v1/token",
			"revocation_endpoint":    "http://localhost:8080/v1/revoke",
			"introspection_endpoint": "http://localhost:8080/v1/introspect",
		} {
			if d[k] != v {
				t.Errorf("discovery %s: got %v, want %s", k, d[k], v)
			}
		}
		if g, _ := d["grant_types_supported"].([]any); len(g) != 5 || g[2] != "authorization_code" || g[3] != "mfa" || g[4] != "passkey" {
			t.Errorf("grant_types_supported: %v", d["grant_types_supported"])
		}
		// The browser flow (RFC 8414 §2, RFC 7636 §6.2, RFC 9207 §3).
		for k, v := range map[string]any{
			"authorization_endpoint":                         "http://localhost:8080/v1/authorize",
			"authorization_response_iss_parameter_supported": true,
		} {
			if d[k] != v {
				t.Errorf("discovery %s: got %v, want %v", k, d[k], v)
			}
		}
		if m, _ := d["code_challenge_methods_supported"].([]any); len(m) != 1 || m[0] != "S256" {
			t.Errorf("code_challenge_methods_supported: %v", d["code_challenge_methods_supported"])
		}
		if m, _ := d["response_types_supported"].([]any); len(m) != 1 || m[0] != "code" {
			t.Errorf("response_types_supported: %v", d["response_types_supported"])
		}
	}, withEnv("LATCH_ADMIN_KEY", testAdminKey))
}

func TestHealth(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		want(t, h.do("GET", "/healthz", "", nil), http.StatusOK, "")
		r := h.do("GET", "/readyz", "", nil)
		want(t, r, http.StatusOK, "")
		if r.str(t, "status") != "ready" {
			t.Errorf("readyz: %s", r.body)
		}
		// Metrics: TestMetricsOffThePublicRouter.
		h.db.Close()
		r = h.do("GET", "/readyz", "", nil)
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
			t.Errorf("readyz with the database closed: got %d, want 503 with Retry-After", r.status)
		}
		want(t, h.do("GET", "/healthz", "", nil), http.StatusOK, "")
	})
}

// Bad input never gets a 500, and no answer leaks internals.
func TestNoServerErrorsForJunk(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		tk := h.signup("junk@example.com")
		bodies := []string{``, `null`, `0`, `"x"`, `[]`, `{}`, `{"grant_type":null}`, `{"grant_type":["password"]}`,
			`{"email":{"$ne":null},"password":"x"}`, `{"metadata":"x"}`, `{"scope":7}`, "\x00\xff", `{"a":` + strings.Repeat(`{"a":`, 5000),
			`{"email":"a@b.co","password":"` + strings.Repeat("p", 5000) + `"}`, `{"token":"` + strings.Repeat("a.", 3000) + `"}`}
		paths := []struct{ method, path string }{
			{"POST", "/v1/signup"}, {"POST", "/v1/token"}, {"PATCH", "/v1/user"}, {"POST", "/v1/logout"},
			{"POST", "/v1/revoke"}, {"POST", "/v1/introspect"}, {"DELETE", "/v1/sessions/x"},
		}
		for _, p := range paths {
			for _, body := range bodies {
				r := h.do(p.method, p.path, tk.access, body)
				if r.status >= 500 {
					t.Errorf("%s %s %.40q: got %d %s", p.method, p.path, body, r.status, r.body)
				}
				if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") && r.status != http.StatusNoContent {
					t.Errorf("%s %s: Content-Type %q", p.method, p.path, r.header.Get("Content-Type"))
				}
				for _, leak := range []string{"sql", "SQL", "goroutine", "panic", "$argon2id$", "pq:", "sqlite"} {
					if strings.Contains(string(r.body), leak) {
						t.Errorf("%s %s: body leaks %q: %s", p.method, p.path, leak, r.body)
					}
				}
			}
		}
	})
}
