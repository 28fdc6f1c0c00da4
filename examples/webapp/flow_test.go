package main

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/clocktest"
)

// newClock is a settable clock for the app, so expiry needs no sleeping.
func newClock() *clocktest.Clock { return clocktest.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) }

// A person signs in, sees their email, and the browser never holds a
// token: only the opaque session cookie.
func TestSignIn(t *testing.T) {
	f := newFakeLatch(t)
	var authz url.Values
	f.lastAuthz = func(q url.Values) { authz = q }
	b := startApp(t, f, newClock())

	status, page := b.open("/")
	wantPage(t, status, page, http.StatusOK, "Signed out", "Sign in", "Sign up")

	status, page = b.press("/login", nil)
	wantPage(t, status, page, http.StatusOK, "Signed in", "ada@example.com", "Refresh now", "Sign out")
	if authz.Get("redirect_uri") != b.base+"/callback" || authz.Get("code_challenge_method") != "S256" || authz.Has("screen") {
		t.Errorf("authorize request %v: want this app's redirect_uri, S256 and no screen", authz)
	}
	for _, secret := range f.secrets() {
		if slices.Contains(b.cookies(), secret) {
			t.Errorf("a token reached the browser's cookies")
		}
	}
}

func TestSignUpAsksForTheSignUpScreen(t *testing.T) {
	f := newFakeLatch(t)
	var authz url.Values
	f.lastAuthz = func(q url.Values) { authz = q }
	b := startApp(t, f, newClock())
	status, page := b.press("/login", url.Values{"screen": {"signup"}})
	wantPage(t, status, page, http.StatusOK, "ada@example.com")
	if authz.Get("screen") != "signup" {
		t.Errorf("authorize request %v: want screen=signup", authz)
	}
}

// Without discovery the app still works, against latch's fixed paths.
func TestWithoutDiscovery(t *testing.T) {
	f := newFakeLatch(t)
	f.noDiscovery = true
	b := startApp(t, f, newClock())
	status, page := b.press("/login", nil)
	wantPage(t, status, page, http.StatusOK, "ada@example.com")
}

// Near its expiry the access token is refreshed before use; a 401 earns
// one refresh; a refresh refused means the session is over.
func TestRefresh(t *testing.T) {
	f := newFakeLatch(t)
	f.expiresIn = 60
	clk := newClock()
	b := startApp(t, f, clk)
	b.press("/login", nil)

	clk.Advance(45 * time.Second) // 15 s left: inside the 30 s margin
	status, page := b.open("/")
	wantPage(t, status, page, http.StatusOK, "ada@example.com", "expires in 1m0s")
	if n, _ := f.counts(); n != 1 {
		t.Errorf("refreshes near expiry: %d, want 1", n)
	}

	f.endSession(true) // access tokens refused, refresh token still good
	status, page = b.open("/")
	wantPage(t, status, page, http.StatusOK, "ada@example.com")
	if n, _ := f.counts(); n != 2 {
		t.Errorf("refreshes after a 401: %d, want 2", n)
	}

	f.endSession(false) // signed out elsewhere
	status, page = b.open("/")
	wantPage(t, status, page, http.StatusOK, "Signed out", "session at latch has ended")
}

func TestRefreshNow(t *testing.T) {
	f := newFakeLatch(t)
	b := startApp(t, f, newClock())
	b.press("/login", nil)
	status, page := b.press("/refresh", nil)
	wantPage(t, status, page, http.StatusOK, "ada@example.com", "Refreshed")
	if n, _ := f.counts(); n != 1 {
		t.Errorf("refreshes: %d, want 1", n)
	}
}

func TestSignOut(t *testing.T) {
	f := newFakeLatch(t)
	b := startApp(t, f, newClock())
	b.press("/login", nil)
	_, signedIn := b.open("/")
	oldCSRF := csrfOf(t, signedIn)

	status, page := b.press("/logout", nil)
	wantPage(t, status, page, http.StatusOK, "Signed out of this app", "Sign in")
	if _, logouts := f.counts(); !slices.Equal(logouts, []string{"local"}) {
		t.Errorf("logouts at latch %q, want [local]", logouts)
	}
	if len(f.secrets()) != 0 {
		t.Errorf("latch still has live tokens after sign-out")
	}
	// The signed-in session's form token is worthless now.
	resp, err := b.c.PostForm(b.base+"/refresh", url.Values{"csrf": {oldCSRF}})
	if err != nil {
		t.Fatal(err)
	}
	status, page = readPage(t, resp)
	wantPage(t, status, page, http.StatusForbidden, "expired")
}

// Forms without this browser's token, or posted from another site, are
// refused before anything happens.
func TestForgedForms(t *testing.T) {
	f := newFakeLatch(t)
	b := startApp(t, f, newClock())
	b.open("/") // the browser has a session and a token
	for _, action := range []string{"/login", "/refresh", "/logout"} {
		resp, err := b.c.PostForm(b.base+action, url.Values{"csrf": {"guess"}})
		if err != nil {
			t.Fatal(err)
		}
		status, page := readPage(t, resp)
		wantPage(t, status, page, http.StatusForbidden)
	}

	_, page := b.open("/")
	req, _ := http.NewRequest(http.MethodPost, b.base+"/login", strings.NewReader("csrf="+csrfOf(t, page)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if status, page := readPage(t, resp); status != http.StatusForbidden {
		t.Errorf("cross-site POST with the right token: %d, want 403:\n%s", status, page)
	}
}

func TestPagesForbidScriptAndFrames(t *testing.T) {
	b := startApp(t, newFakeLatch(t), newClock())
	resp, err := b.c.Get(b.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	status, css := b.open("/static/style.css")
	wantPage(t, status, css, http.StatusOK, "--brand")
}
