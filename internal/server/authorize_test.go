package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/store"
)

// The browser side through the real router on both databases:
// /v1/authorize and the authorization_code grant, the pages' session and
// CSRF defence, the refresh cookie for single-page apps, and sign-up
// turned off in favour of invitations.

const appRedirect = "https://app.example.com/callback"

func withRedirects() harnessOption {
	return withEnv("LATCH_REDIRECT_URLS", appRedirect+",http://127.0.0.1/cb",
		"LATCH_SIGNUP_REQUIRE_VERIFICATION", "off")
}

// pkce is a verifier and its S256 challenge (RFC 7636 §4.1, §4.2).
type pkce struct{ verifier, challenge string }

func newPKCE(seed string) pkce {
	v := strings.Repeat(seed, 43/len(seed)+1)[:43]
	sum := sha256.Sum256([]byte(v))
	return pkce{v, base64.RawURLEncoding.EncodeToString(sum[:])}
}

func authorizeURL(redirect, state string, p pkce, extra ...string) string {
	q := url.Values{"redirect_uri": {redirect}, "state": {state}, "code_challenge": {p.challenge}, "code_challenge_method": {"S256"}, "response_type": {"code"}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return "/v1/authorize?" + q.Encode()
}

// location parses a redirect's Location.
func location(t testing.TB, r response) *url.URL {
	t.Helper()
	if r.status != http.StatusFound && r.status != http.StatusSeeOther {
		t.Fatalf("want a redirect, got %d %s", r.status, r.body)
	}
	u, err := url.Parse(r.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// signUpInBrowser signs a new person up on the sign-up page.
func signUpInBrowser(t *testing.T, b *browser, email string) {
	t.Helper()
	b.get("/signup")
	r := b.post("/signup", url.Values{"email": {email}, "password": {goodPassword}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/account" {
		t.Fatalf("sign-up page: %d %s %s", r.status, r.header.Get("Location"), r.body)
	}
}

func (h *harness) exchange(code, redirect, verifier string) response {
	return h.do("POST", "/v1/token", "", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {verifier}})
}

// RFC 6749 §4.1, RFC 7636 (S256), RFC 9207 (iss), RFC 9700 §2.1.1 (PKCE
// for every client), §4.5 (code replay): the whole round trip, SSO into
// a second app, and the code's single use.
func TestAuthorizationCodeFlow(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		b := h.browser()
		// No session: the sign-in page, with the request as continuation.
		p := newPKCE("abc")
		to := location(t, b.get(authorizeURL(appRedirect, "st&ate=1", p, "login_hint", "flow@example.com")))
		if to.Path != "/login" || !strings.HasPrefix(to.Query().Get("continue"), "/v1/authorize?") || to.Query().Get("login_hint") != "flow@example.com" {
			t.Fatalf("no session: sent to %s", to)
		}
		r := b.get(to.RequestURI())
		if !strings.Contains(string(r.body), `value="flow@example.com"`) {
			t.Fatalf("login_hint not in the form:\n%s", r.body)
		}
		b.get("/signup?" + url.Values{"continue": {to.Query().Get("continue")}}.Encode())
		r = b.post("/signup", url.Values{"email": {"flow@example.com"}, "password": {goodPassword}, "continue": {to.Query().Get("continue")}})
		back := location(t, r)
		if back.Path != "/v1/authorize" {
			t.Fatalf("after sign-up: sent to %s", back)
		}
		cb := location(t, b.get(back.RequestURI()))
		if got := cb.Scheme + "://" + cb.Host + cb.Path; got != appRedirect {
			t.Fatalf("redirected to %s", cb)
		}
		q := cb.Query()
		if q.Get("state") != "st&ate=1" || q.Get("iss") != h.cfg.HTTP.PublicURL || q.Get("code") == "" {
			t.Fatalf("callback parameters: %v", q)
		}
		want(t, h.exchange(q.Get("code"), appRedirect, newPKCE("abd").verifier), http.StatusBadRequest, "invalid_grant")
		r = h.exchange(q.Get("code"), appRedirect, p.verifier)
		// The code was refused once (wrong verifier) but not spent: the
		// right verifier still redeems it, once.
		want(t, r, http.StatusOK, "")
		app := r.tokens(t)
		want(t, h.do("GET", "/v1/user", app.access, nil), http.StatusOK, "")
		_, claims := jwtParts(t, app.access)
		if claims["auth_time"] == nil || claims["amr"] == nil {
			t.Fatalf("access token from a code: %v", claims)
		}

		// A second app signs in without a password while the browser
		// session lives.
		p2 := newPKCE("xyz")
		cb2 := location(t, b.get(authorizeURL("http://127.0.0.1:49152/cb", "two", p2)))
		if cb2.Host != "127.0.0.1:49152" || cb2.Query().Get("code") == "" {
			t.Fatalf("SSO into the loopback app: %s", cb2)
		}
		want(t, h.exchange(cb2.Query().Get("code"), "http://127.0.0.1:49152/cb", p2.verifier), http.StatusOK, "")

		// /v1/sessions lists the browser session and the app sessions
		// made from it.
		r = h.do("GET", "/v1/sessions", app.access, nil)
		want(t, r, http.StatusOK, "")
		var browserID string
		kinds := map[string]int{}
		for _, s := range r.json(t)["sessions"].([]any) {
			m := s.(map[string]any)
			kinds[m["kind"].(string)]++
			if m["kind"] == "browser" {
				browserID = m["id"].(string)
			}
		}
		if kinds["browser"] != 1 || kinds["app"] != 2 {
			t.Fatalf("sessions by kind: %v", kinds)
		}
		for _, s := range r.json(t)["sessions"].([]any) {
			m := s.(map[string]any)
			if m["kind"] == "app" && m["parent_id"] != browserID {
				t.Fatalf("app session without its parent: %v", m)
			}
		}

		// Replay: refused, and the session the code made ends.
		want(t, h.exchange(q.Get("code"), appRedirect, p.verifier), http.StatusBadRequest, "invalid_grant")
		want(t, h.do("GET", "/v1/user", app.access, nil), http.StatusUnauthorized, "invalid_token")
		want(t, h.refresh(app.refresh), http.StatusBadRequest, "invalid_grant")
	}, withRedirects())
}

// A code is bound to its redirect URI and lives 60 s (RFC 6749 §4.1.2,
// §4.1.3); prompt and max_age are honoured (OpenID Connect Core §3.1.2.1).
func TestAuthorizationCodeBindings(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		b := h.browser()
		signUpInBrowser(t, b, "bind@example.com")
		p := newPKCE("k")
		code := func(extra ...string) string {
			t.Helper()
			cb := location(t, b.get(authorizeURL(appRedirect, "s", p, extra...)))
			if cb.Query().Get("code") == "" {
				t.Fatalf("no code: %s", cb)
			}
			return cb.Query().Get("code")
		}
		want(t, h.exchange(code(), "https://app.example.com/other", p.verifier), http.StatusBadRequest, "invalid_grant")
		c := code()
		h.clock.Advance(61 * time.Second)
		want(t, h.exchange(c, appRedirect, p.verifier), http.StatusBadRequest, "invalid_grant")
		want(t, h.exchange("lac_"+strings.Repeat("A", 43), appRedirect, p.verifier), http.StatusBadRequest, "invalid_grant")
		want(t, h.exchange("", appRedirect, p.verifier), http.StatusBadRequest, "invalid_request")
		want(t, h.exchange(code(), appRedirect, "short"), http.StatusBadRequest, "invalid_request")

		// prompt=login: the sign-in page even with a session; max_age
		// older than the sign-in, too; a recent one gets a code.
		if to := location(t, b.get(authorizeURL(appRedirect, "s", p, "prompt", "login"))); to.Path != "/login" {
			t.Fatalf("prompt=login: %s", to)
		}
		h.clock.Advance(10 * time.Minute)
		if to := location(t, b.get(authorizeURL(appRedirect, "s", p, "max_age", "300"))); to.Path != "/login" {
			t.Fatalf("max_age=300 ten minutes after sign-in: %s", to)
		}
		code("max_age", "3600")

		// prompt=none without a session: login_required, to the app.
		fresh := h.browser()
		cb := location(t, fresh.get(authorizeURL(appRedirect, "n", p, "prompt", "none")))
		if cb.Query().Get("error") != "login_required" || cb.Query().Get("state") != "n" || cb.Query().Get("iss") != h.cfg.HTTP.PublicURL {
			t.Fatalf("prompt=none: %s", cb)
		}
	}, withRedirects())
}

// RFC 9700 §2.1 and §4.1: redirect URIs compare as exact strings, a bad
// one gets an error page and never a redirect (no open redirect), and
// only a loopback IP literal's port may vary (RFC 8252 §7.3).
func TestAuthorizeRefusesForeignRedirects(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		b := h.browser()
		p := newPKCE("r")
		for _, bad := range []string{
			"", "https://evil.example.com/callback",
			"https://app.example.com/callback/", "https://app.example.com/callback?x=1",
			"https://app.example.com/callback#frag", "https://APP.example.com/callback",
			"https://app.example.com@evil.example.com/callback", "https://evil.example.com@app.example.com/callback",
			"http://app.example.com/callback", "https://app.example.com:443/callback",
			"https://app.example.com/callback%2F..%2Fevil", "https://app.example.com/Callback",
			"javascript:alert(1)//https://app.example.com/callback", "//evil.example.com/callback",
			"http://127.0.0.1:8000/cb/", "http://127.0.0.1:8000/other", "https://127.0.0.1:8000/cb",
			"http://localhost:8000/cb", "http://127.0.0.2:8000/cb", "http://user@127.0.0.1:8000/cb",
			"http://127.0.0.1:99999/cb",
		} {
			r := b.get(authorizeURL(bad, "s", p))
			if r.status != http.StatusBadRequest || r.header.Get("Location") != "" || !strings.Contains(string(r.body), "<h1>") {
				t.Errorf("redirect_uri %q: %d Location=%q", bad, r.status, r.header.Get("Location"))
			}
		}
		// Twice, even with one good value.
		r := b.get("/v1/authorize?redirect_uri=" + url.QueryEscape(appRedirect) + "&redirect_uri=https://evil.example.com/")
		if r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
			t.Errorf("two redirect_uri: %d %q", r.status, r.header.Get("Location"))
		}
		// With a good redirect URI, other errors go back to the app
		// (RFC 6749 §4.1.2.1), state and iss included.
		for name, c := range map[string]struct{ url, code string }{
			"no challenge":  {"/v1/authorize?" + url.Values{"redirect_uri": {appRedirect}, "state": {"s"}}.Encode(), "invalid_request"},
			"plain":         {authorizeURL(appRedirect, "s", p, "code_challenge_method", "plain"), "invalid_request"},
			"no method":     {authorizeURL(appRedirect, "s", p, "code_challenge_method", ""), "invalid_request"},
			"bad challenge": {authorizeURL(appRedirect, "s", pkce{challenge: "short"}), "invalid_request"},
			"token flow":    {authorizeURL(appRedirect, "s", p, "response_type", "token"), "unsupported_response_type"},
			"bad prompt":    {authorizeURL(appRedirect, "s", p, "prompt", "consent"), "invalid_request"},
			"bad max_age":   {authorizeURL(appRedirect, "s", p, "max_age", "-1"), "invalid_request"},
		} {
			cb := location(t, b.get(c.url))
			if cb.Query().Get("error") != c.code || cb.Query().Get("state") != "s" || cb.Query().Get("iss") != h.cfg.HTTP.PublicURL || cb.Host != "app.example.com" {
				t.Errorf("%s: %s", name, cb)
			}
		}
	}, withRedirects())
}

// OWASP ASVS 5.0 V3.5.1 (CSRF on every state-changing form, login
// included) and V3.4.3: a cross-site POST gets 403 and does nothing; a
// form without the browser's token too. V7.2.4: the session cookie
// changes at sign-in (no fixation). V3.3.1: cookies carry HttpOnly and
// SameSite (Secure is tested over HTTPS in cmd/latch).
func TestPagesRefuseCrossSiteForms(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		b := h.browser()
		b.get("/signup")
		r := b.post("/signup", url.Values{"email": {"csrf@example.com"}, "password": {goodPassword}}, "Sec-Fetch-Site", "cross-site")
		want(t, r, http.StatusForbidden, "")
		r = b.post("/signup", url.Values{"email": {"csrf@example.com"}, "password": {goodPassword}, "csrf": {"forged"}})
		want(t, r, http.StatusForbidden, "")
		r = b.post("/signup", url.Values{"email": {"csrf@example.com"}, "password": {goodPassword}}, "Origin", "https://evil.example.com")
		want(t, r, http.StatusForbidden, "")
		other := h.browser()
		other.get("/login")
		// Login CSRF: another browser's valid token is no good here.
		r = b.post("/login", url.Values{"email": {"csrf@example.com"}, "password": {goodPassword}, "csrf": {other.csrf}})
		want(t, r, http.StatusForbidden, "")
		if _, err := h.db.GetUserByEmail(context.Background(), "csrf@example.com"); err == nil {
			t.Fatal("a refused form created the account")
		}

		signUpInBrowser(t, b, "csrf@example.com")
		first := b.cookie("latch_session")
		if first == "" {
			t.Fatal("no session cookie after sign-up")
		}
		b.get("/login")
		r = b.post("/login", url.Values{"email": {"csrf@example.com"}, "password": {goodPassword}})
		if location(t, r).Path != "/account" || b.cookie("latch_session") == first || b.cookie("latch_session") == "" {
			t.Fatalf("sign-in kept the session cookie (fixation)")
		}
		for _, c := range strings.Split(strings.Join(r.header.Values("Set-Cookie"), "\n"), "\n") {
			if strings.HasPrefix(c, "latch_session=") && (!strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Lax") || !strings.Contains(c, "Path=/")) {
				t.Errorf("session cookie: %s", c)
			}
		}
		r = b.get("/account")
		want(t, r, http.StatusOK, "")
		for _, hdr := range []string{"frame-ancestors 'none'", "script-src 'self'", "style-src 'self'"} {
			if !strings.Contains(r.header.Get("Content-Security-Policy"), hdr) {
				t.Errorf("CSP %q lacks %q", r.header.Get("Content-Security-Policy"), hdr)
			}
		}
		if r.header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("X-Frame-Options: %q", r.header.Get("X-Frame-Options"))
		}
	}, withRedirects())
}

// Every value a page shows is escaped: an address's local part, a
// login_hint, a redirect URI (OWASP ASVS 5.0 V1.2.1).
func TestPagesEscapeWhatTheyShow(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		b := h.browser()
		evil := `"><script>alert(1)</script>`
		for _, path := range []string{
			"/login?login_hint=" + url.QueryEscape(evil),
			"/signup?login_hint=" + url.QueryEscape(evil),
			"/login?continue=" + url.QueryEscape("/v1/authorize?x="+evil),
			"/verify?token=" + url.QueryEscape(evil),
			"/v1/authorize?redirect_uri=" + url.QueryEscape("https://x/"+evil),
		} {
			r := b.get(path)
			if strings.Contains(string(r.body), "<script>alert") {
				t.Errorf("%s: unescaped:\n%s", path, r.body)
			}
		}
		b.get("/login")
		r := b.post("/login", url.Values{"email": {`"><img src=x onerror=alert(1)>@example.com`}, "password": {"wrong password here"}})
		if strings.Contains(string(r.body), "<img src=x") {
			t.Errorf("sign-in page echoes markup:\n%s", r.body)
		}
	}, withRedirects())
}

// 10,000 authorization requests from browsers with no session store
// nothing (OWASP ASVS 5.0 V2.4.1): the request travels in the sign-in
// page's continuation until someone signs in. Codes are not stored
// either: a signed-in browser asking for many writes no row.
func TestAuthorizeWithoutSessionStoresNothing(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		b := h.browser()
		p := newPKCE("n")
		for i := range 10000 {
			r := b.get(authorizeURL(appRedirect, "s", p))
			if r.status != http.StatusSeeOther && r.status != http.StatusTooManyRequests {
				t.Fatalf("request %d: %d", i, r.status)
			}
		}
		ctx := context.Background()
		users, err := h.db.ListUsers(ctx, store.ListUsersOptions{})
		if err != nil || len(users) != 0 {
			t.Fatalf("users: %d, %v", len(users), err)
		}
		signUpInBrowser(t, b, "codes@example.com")
		for range 200 {
			if cb := location(t, b.get(authorizeURL(appRedirect, "s", p))); cb.Query().Get("code") == "" {
				t.Fatalf("no code: %s", cb)
			}
		}
		now := h.clock.Now()
		if n, err := h.db.CountActiveSessions(ctx, now, now.Add(-time.Hour)); err != nil || n != 1 {
			t.Fatalf("sessions after 200 codes and no redemption: %d, %v; want the browser's alone", n, err)
		}
	}, withRedirects(), withEnv("LATCH_RATE_LIMIT", "off"))
}

// OWASP ASVS 5.0 V3.3.1: over HTTPS every cookie is Secure, and latch's
// own carry the __Host- prefix (no Domain, Path=/), the refresh cookie
// __Secure-; RFC 6265bis §4.1.3.
func TestCookiesOverHTTPS(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		b := h.browser() // keeps no Secure cookie over the test's plain http: sent by hand below
		r := b.get("/signup")
		csrfCookie := ""
		for _, c := range r.header.Values("Set-Cookie") {
			if v, ok := strings.CutPrefix(c, "__Host-latch_csrf="); ok {
				csrfCookie, _, _ = strings.Cut(v, ";")
			}
			checkSecureCookie(t, c)
		}
		m := csrfField.FindSubmatch(r.body)
		if csrfCookie == "" || m == nil {
			t.Fatalf("no __Host-latch_csrf cookie or form token: %v", r.header.Values("Set-Cookie"))
		}
		r = b.post("/signup", url.Values{"email": {"https@example.com"}, "password": {goodPassword}, "csrf": {string(m[1])}},
			"Cookie", "__Host-latch_csrf="+csrfCookie)
		if r.status != http.StatusSeeOther {
			t.Fatalf("sign-up over https: %d %s", r.status, r.body)
		}
		session := false
		for _, c := range r.header.Values("Set-Cookie") {
			session = session || strings.HasPrefix(c, "__Host-latch_session=")
			checkSecureCookie(t, c)
		}
		if !session {
			t.Fatalf("no __Host-latch_session cookie: %v", r.header.Values("Set-Cookie"))
		}
		r = h.do("POST", "/v1/token", "", url.Values{"grant_type": {"password"}, "email": {"https@example.com"}, "password": {goodPassword}, "token_delivery": {"cookie"}},
			"Origin", "https://auth.example.com")
		want(t, r, http.StatusOK, "")
		c := r.header.Get("Set-Cookie")
		if !strings.HasPrefix(c, "__Secure-latch_refresh=") || !strings.Contains(c, "; Secure") {
			t.Fatalf("refresh cookie over https: %q", c)
		}
	}, withEnv("LATCH_PUBLIC_URL", "https://auth.example.com", "LATCH_SIGNUP_REQUIRE_VERIFICATION", "off"))
}

func checkSecureCookie(t *testing.T, c string) {
	t.Helper()
	for _, attr := range []string{"; Secure", "; HttpOnly", "; Path=/"} {
		if !strings.Contains(c, attr) {
			t.Errorf("cookie %q lacks %q", c, attr)
		}
	}
	if !strings.HasPrefix(c, "__Host-") || strings.Contains(strings.ToLower(c), "domain=") {
		t.Errorf("cookie %q: want the __Host- prefix and no Domain", c)
	}
}

// The pages speak the browser's language (Accept-Language), English when
// latch has none of those it asks for.
func TestPagesSpeakTheBrowsersLanguage(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		b := h.browser()
		for lang, c := range map[string]struct{ tag, text string }{
			"de-DE,de;q=0.9,en;q=0.5": {"de", "Anmelden"},
			"fr-FR":                   {"en", "Sign in"},
			"":                        {"en", "Sign in"},
		} {
			r := b.get("/login", "Accept-Language", lang)
			body := string(r.body)
			if !strings.Contains(body, `<html lang="`+c.tag+`">`) || !strings.Contains(body, "<h1>"+c.text+"</h1>") || r.header.Get("Content-Language") != c.tag {
				t.Errorf("Accept-Language %q: want %s, got Content-Language %q\n%.400s", lang, c.tag, r.header.Get("Content-Language"), body)
			}
		}
	}, withRedirects())
}

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

// LATCH_SIGNUP=off: nobody creates an account on their own, by the API
// or the pages, and the sign-in page offers no sign-up; an invitation
// (latch user invite) creates the account and mails a set-password link
// to /invite that works once.
func TestSignupOffAndInvitations(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		const addr = "invited@example.com"
		want(t, h.do("POST", "/v1/signup", "", map[string]any{"email": addr, "password": goodPassword}), http.StatusForbidden, "signup_disabled")
		b := h.browser()
		if r := b.get("/login"); strings.Contains(string(r.body), `href="/signup`) {
			t.Error("the sign-in page links to sign-up while it is off")
		}
		want(t, b.get("/signup"), http.StatusForbidden, "")
		b.get("/login")
		want(t, b.post("/signup", url.Values{"email": {addr}, "password": {goodPassword}}), http.StatusForbidden, "")
		if _, err := h.db.GetUserByEmail(context.Background(), addr); err == nil {
			t.Fatal("an account was created while sign-up is off")
		}

		if _, err := h.auth.Invite(context.Background(), addr); err != nil {
			t.Fatalf("Invite: %v", err)
		}
		h.sendMail()
		tok := linkToken(t, h.mailTo(addr, "invited"), h.cfg.HTTP.PublicURL, "invite")
		want(t, h.login(addr, goodPassword), http.StatusBadRequest, "invalid_grant")
		r := b.get("/invite?token=" + tok)
		if r.status != http.StatusOK || !strings.Contains(string(r.body), `autocomplete="new-password"`) {
			t.Fatalf("GET /invite: %d\n%s", r.status, r.body)
		}
		r = b.post("/invite", url.Values{"token": {tok}, "password": {goodPassword}})
		want(t, r, http.StatusOK, "")
		want(t, h.login(addr, goodPassword), http.StatusOK, "")
		b.get("/invite?token=" + tok)
		if r := b.post("/invite", url.Values{"token": {tok}, "password": {"another long passphrase"}}); r.status != http.StatusBadRequest {
			t.Fatalf("a used invitation link: %d", r.status)
		}
		// Inviting an account that has a password is refused.
		if _, err := h.auth.Invite(context.Background(), addr); err == nil {
			t.Fatal("Invite of an account with a password succeeded")
		}
	}, withSMTP(), withEnv("LATCH_SIGNUP", "off"))
}

// LATCH_UI=off: the API alone. The sign-in pages and /v1/authorize are
// gone; the pages that email links open stay, and so do the API's
// answers.
func TestUIOff(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		b := h.browser()
		for _, path := range []string{"/login", "/signup", "/account", "/logout", authorizeURL(appRedirect, "s", newPKCE("u"))} {
			if r := b.get(path); r.status != http.StatusNotFound {
				t.Errorf("GET %s with the UI off: %d", path, r.status)
			}
		}
		const addr = "api-only@example.com"
		want(t, h.do("POST", "/v1/signup", "", map[string]any{"email": addr, "password": goodPassword}), http.StatusAccepted, "")
		tok := linkToken(t, h.mailTo(addr, "confirm"), h.cfg.HTTP.PublicURL, "verify")
		want(t, b.get("/verify?token="+tok), http.StatusOK, "")
		r := b.post("/verify", url.Values{"token": {tok}, "password": {goodPassword}})
		if r.status != http.StatusOK || b.cookie("latch_session") != "" || !strings.Contains(string(r.body), "you can sign in") {
			t.Fatalf("verification page with the UI off: %d, session cookie %q", r.status, b.cookie("latch_session"))
		}
		want(t, h.login(addr, goodPassword), http.StatusOK, "")
	}, withSMTP(), withEnv("LATCH_UI", "off"))
}

// A form posted without the CSRF cookie, as a page of another site that
// cannot read latch's cookies would, is refused (OWASP ASVS 5.0 V3.5.1).
func TestFormWithoutCSRFCookie(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		r := h.browser().post("/login", url.Values{"email": {"x@example.com"}, "password": {goodPassword}, "csrf": {"A"}})
		want(t, r, http.StatusForbidden, "")
	}, withRedirects())
}

// A message speaks the language of the request that caused it, from the
// pages' catalog: a German sign-up gets a German verification link.
func TestMessagesSpeakTheRequestsLanguage(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		const de, en = "deutsch@example.com", "english@example.com"
		want(t, h.do("POST", "/v1/signup", "", map[string]any{"email": de, "password": goodPassword}, "Accept-Language", "de-DE,de;q=0.9"), http.StatusAccepted, "")
		want(t, h.do("POST", "/v1/signup", "", map[string]any{"email": en, "password": goodPassword}), http.StatusAccepted, "")
		if m := h.mailTo(de, "Bestätigen Sie"); !strings.Contains(m.Text, "Guten Tag") {
			t.Errorf("German verification message:\n%s", m.Text)
		}
		if m := h.mailTo(en, "Confirm your email"); !strings.Contains(m.Text, "Hello,") {
			t.Errorf("English verification message:\n%s", m.Text)
		}
	}, withSMTP())
}
