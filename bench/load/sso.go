package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The sso scenario: people who signed in on latch's pages once, signing
// in to an application again and again through the authorization-code
// flow with PKCE (the returning-user path).

// ssoRedirect is the scenario's redirect URI; latch runs with it in
// LATCH_REDIRECT_URLS (and must, with -url).
const ssoRedirect = "http://127.0.0.1/cb"

// ssoVerifier is the scenario's PKCE verifier, the same for every
// request: the cost measured is latch's, which checks it each time.
const ssoVerifier = "bench-verifier-0123456789abcdefghijklmnopqrstuvwxyz"

// authorizePath is the authorization request every sso sign-in sends.
var authorizePath = func() string {
	sum := sha256.Sum256([]byte(ssoVerifier))
	return "/v1/authorize?" + url.Values{
		"redirect_uri": {"http://127.0.0.1:9/cb"}, "response_type": {"code"}, "state": {"bench"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}.Encode()
}()

// sessionCookie is latch's browser-session cookie on a loopback public
// URL (plain http: no __Host- prefix).
const sessionCookie = "latch_session"

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// browserSignIn signs v in on latch's sign-in page, as a browser does:
// the page (and its CSRF cookie), then the form.
func (r *runner) browserSignIn(ctx context.Context, v *vu) error {
	var last error
	for range 20 {
		cookie, err := r.api.pageSignIn(ctx, v.acct.email, v.acct.password)
		if err == nil {
			v.browser = cookie
			return nil
		}
		last = err
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("sign in on the page as %s: %w", v.acct.email, last)
}

// pageSignIn gets /login and posts its form; it returns the session
// cookie's value.
func (a *api) pageSignIn(ctx context.Context, email, password string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/login", nil)
	if err != nil {
		return "", err
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return "", err
	}
	page, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	m := csrfField.FindSubmatch(page)
	if err != nil || resp.StatusCode != http.StatusOK || m == nil {
		return "", fmt.Errorf("GET /login: %s", resp.Status)
	}
	var csrf *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "latch_csrf" {
			csrf = c
		}
	}
	if csrf == nil {
		return "", errors.New("GET /login: no CSRF cookie (is the public URL loopback http?)")
	}
	form := url.Values{"email": {email}, "password": {password}, "csrf": {string(m[1])}}.Encode()
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/login", strings.NewReader(form))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(csrf)
	resp, err = a.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie && resp.StatusCode == http.StatusSeeOther {
			return c.Value, nil
		}
	}
	return "", fmt.Errorf("POST /login: %s, no session", resp.Status)
}

// sso is one returning sign-in: the authorization request with the
// session cookie, then the code's redemption. A 303 (to the sign-in
// page) means the session is gone.
func (a *api) sso(ctx context.Context, session string) (reply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+authorizePath, nil)
	if err != nil {
		return reply{}, err
	}
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: session})
	resp, err := a.hc.Do(req)
	if err != nil {
		return reply{}, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		r := reply{status: resp.StatusCode}
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
			r.retryAfter = time.Duration(secs) * time.Second
		}
		return r, nil
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		return reply{status: statusBadBody}, fmt.Errorf("authorize: no code in %q", resp.Header.Get("Location"))
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {"http://127.0.0.1:9/cb"}, "code_verifier": {ssoVerifier}}.Encode()
	return a.do(ctx, http.MethodPost, "/v1/token", "application/x-www-form-urlencoded", []byte(form), "", http.StatusOK)
}
