package server

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// The refresh token in a cookie, for a single-page app on a site latch
// trusts (RFC 9700 §4.14 prefers it out of JavaScript's reach): with
// token_delivery=cookie the token response sets the refresh token as an
// HttpOnly, SameSite=Strict cookie scoped to /v1/token and leaves it out
// of the body, and a refresh without refresh_token reads it. Both need an
// Origin that LATCH_CORS_ORIGINS lists (or latch's own), which the
// browser sets and a page cannot forge; CORS then answers with
// credentials for those origins only.

// refreshCookieName is __Secure-latch_refresh over HTTPS; on a loopback
// HTTP public URL (development) the prefix, which requires Secure, is
// left out.
func (s *Server) refreshCookieName() string {
	if s.secureCookies() {
		return "__Secure-latch_refresh"
	}
	return "latch_refresh"
}

func (s *Server) secureCookies() bool {
	return strings.HasPrefix(s.cfg.HTTP.PublicURL, "https://")
}

// credentialedOrigin reports whether the request's Origin may use the
// refresh cookie: a CORS origin, or latch's own.
func (s *Server) credentialedOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		return false
	}
	if s.allowedOrigin(origin) {
		return true
	}
	u, err := url.Parse(s.cfg.HTTP.PublicURL)
	return err == nil && strings.EqualFold(origin, u.Scheme+"://"+u.Host)
}

// setRefreshCookie moves the refresh token from the body to the cookie.
func (s *Server) setRefreshCookie(w http.ResponseWriter, t *auth.TokenResponse) {
	http.SetCookie(w, &http.Cookie{
		Name: s.refreshCookieName(), Value: t.RefreshToken, Path: "/v1/token",
		MaxAge: int(s.cfg.Tokens.SessionMaxAge / time.Second), HttpOnly: true, Secure: s.secureCookies(),
		SameSite: http.SameSiteStrictMode,
	})
	t.RefreshToken = ""
}

// clearRefreshCookie deletes the refresh cookie, if the browser has one.
func (s *Server) clearRefreshCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: s.refreshCookieName(), Value: "", Path: "/v1/token", MaxAge: -1,
		HttpOnly: true, Secure: s.secureCookies(), SameSite: http.SameSiteStrictMode,
	})
}

// cookieRefresh is the refresh token of the cookie, for a refresh
// without refresh_token from a credentialed origin; "" otherwise.
func (s *Server) cookieRefresh(r *http.Request) string {
	if !s.credentialedOrigin(r) {
		return ""
	}
	c, err := r.Cookie(s.refreshCookieName())
	if err != nil {
		return ""
	}
	return c.Value
}
