package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The refresh token in an HttpOnly cookie for a single-page app (RFC
// 9700 §4.14: keep refresh tokens out of JavaScript's reach; OWASP ASVS
// 5.0 V3.3.1, V3.3.2: HttpOnly, SameSite, scoped path): set only for an
// allowed Origin, read only from one, rotated like any refresh token, and
// cleared by logout.
func TestRefreshTokenInCookie(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		const origin = "https://app.example.com"
		h.signup("spa@example.com")
		form := url.Values{"grant_type": {"password"}, "email": {"spa@example.com"}, "password": {goodPassword}, "token_delivery": {"cookie"}}
		want(t, h.do("POST", "/v1/token", "", form), http.StatusBadRequest, "invalid_request")
		want(t, h.do("POST", "/v1/token", "", form, "Origin", "https://evil.example.com"), http.StatusBadRequest, "invalid_request")

		r := h.do("POST", "/v1/token", "", form, "Origin", origin)
		want(t, r, http.StatusOK, "")
		if _, ok := r.json(t)["refresh_token"]; ok {
			t.Fatalf("refresh_token in the body with token_delivery=cookie: %s", r.body)
		}
		if r.header.Get("Access-Control-Allow-Credentials") != "true" || r.header.Get("Access-Control-Allow-Origin") != origin {
			t.Fatalf("CORS of a cookie sign-in: %v", r.header)
		}
		rt := refreshCookie(t, r)
		if rt == "" {
			t.Fatal("no refresh cookie")
		}

		refresh := url.Values{"grant_type": {"refresh_token"}}
		cookie := "latch_refresh=" + rt
		// From another origin, or none, the cookie is not read.
		want(t, h.do("POST", "/v1/token", "", refresh, "Cookie", cookie, "Origin", "https://evil.example.com"), http.StatusBadRequest, "invalid_request")
		want(t, h.do("POST", "/v1/token", "", refresh, "Cookie", cookie), http.StatusBadRequest, "invalid_request")
		r = h.do("POST", "/v1/token", "", refresh, "Cookie", cookie, "Origin", origin)
		want(t, r, http.StatusOK, "")
		next := refreshCookie(t, r)
		if next == "" || next == rt {
			t.Fatalf("the cookie was not rotated")
		}
		if _, ok := r.json(t)["refresh_token"]; ok {
			t.Fatalf("refresh_token in the body of a cookie refresh")
		}
		// The old cookie is re-use after the grace window's twin answer;
		// the new one works.
		want(t, h.do("POST", "/v1/token", "", refresh, "Cookie", "latch_refresh="+next, "Origin", origin), http.StatusOK, "")

		r = h.do("POST", "/v1/logout", r.str(t, "access_token"), nil, "Origin", origin)
		want(t, r, http.StatusNoContent, "")
		if c := r.header.Get("Set-Cookie"); !strings.HasPrefix(c, "latch_refresh=;") || !strings.Contains(c, "Max-Age=0") {
			t.Fatalf("logout does not clear the cookie: %q", c)
		}
	}, withEnv("LATCH_CORS_ORIGINS", "https://app.example.com", "LATCH_SIGNUP_REQUIRE_VERIFICATION", "off"))
}

// refreshCookie returns the refresh cookie a response sets, checking its
// attributes.
func refreshCookie(t *testing.T, r response) string {
	t.Helper()
	for _, c := range r.header.Values("Set-Cookie") {
		if !strings.HasPrefix(c, "latch_refresh=") {
			continue
		}
		for _, attr := range []string{"HttpOnly", "SameSite=Strict", "Path=/v1/token"} {
			if !strings.Contains(c, attr) {
				t.Errorf("refresh cookie %q lacks %s", c, attr)
			}
		}
		v, _, _ := strings.Cut(strings.TrimPrefix(c, "latch_refresh="), ";")
		return v
	}
	return ""
}
