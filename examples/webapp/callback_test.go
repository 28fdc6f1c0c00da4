package main

import (
	"net/http"
	"net/url"
	"testing"
)

// The callback refuses what it must, shows latch's errors, and never
// redeems a code before state and iss are checked.
func TestCallback(t *testing.T) {
	for _, tc := range []struct {
		name       string
		noIssParam bool
		tamper     func(q url.Values)
		status     int
		snippets   []string
	}{
		{"success", false, nil, http.StatusOK, []string{"ada@example.com"}},
		{"access denied", false, func(q url.Values) {
			q.Del("code")
			q.Set("error", "access_denied")
			q.Set("error_description", "the person pressed Cancel")
		}, http.StatusBadRequest, []string{"access_denied", "the person pressed Cancel", "cancelled or refused"}},
		{"login required", false, func(q url.Values) {
			q.Del("code")
			q.Set("error", "login_required")
		}, http.StatusBadRequest, []string{"login_required", "prompt=none"}},
		{"description is text, not HTML", false, func(q url.Values) {
			q.Del("code")
			q.Set("error", "server_error")
			q.Set("error_description", "<b>bold</b>")
		}, http.StatusBadRequest, []string{"&lt;b&gt;bold&lt;/b&gt;"}},
		{"wrong state", false, func(q url.Values) { q.Set("state", q.Get("state")+"x") },
			http.StatusBadRequest, []string{"state parameter does not match"}},
		{"missing state", false, func(q url.Values) { q.Del("state") },
			http.StatusBadRequest, []string{"state parameter does not match"}},
		{"error with wrong state is not shown", false, func(q url.Values) {
			q.Del("code")
			q.Set("error", "access_denied")
			q.Set("error_description", "visit evil.example")
			q.Set("state", "forged")
		}, http.StatusBadRequest, []string{"state parameter does not match"}},
		{"another issuer", false, func(q url.Values) { q.Set("iss", "http://evil.example") },
			http.StatusBadRequest, []string{"http://evil.example", "RFC 9207"}},
		{"iss missing though promised", false, func(q url.Values) { q.Del("iss") },
			http.StatusBadRequest, []string{"no iss parameter"}},
		{"iss missing, not promised", true, func(q url.Values) { q.Del("iss") },
			http.StatusOK, []string{"ada@example.com"}},
		{"unknown code", false, func(q url.Values) { q.Set("code", "stolen") },
			http.StatusBadGateway, []string{"invalid_grant", "not valid"}},
		{"neither code nor error", false, func(q url.Values) { q.Del("code") },
			http.StatusBadRequest, []string{"neither a code nor an error"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeLatch(t)
			f.noIssParam, f.tamper = tc.noIssParam, tc.tamper
			b := startApp(t, f, newClock())
			status, page := b.press("/login", nil)
			wantPage(t, status, page, tc.status, tc.snippets...)
			if tc.status != http.StatusOK && len(f.secrets()) != 0 {
				t.Errorf("latch issued tokens for a refused callback")
			}
		})
	}
}

// The code exchange sends the verifier that matches the challenge: the
// fake refuses any other, so a verifier for another sign-in fails.
func TestCallbackSendsTheMatchingVerifier(t *testing.T) {
	f := newFakeLatch(t)
	var verifier string
	f.token = func(form url.Values) bool { verifier = form.Get("code_verifier"); return true }
	b := startApp(t, f, newClock())
	status, page := b.press("/login", nil)
	wantPage(t, status, page, http.StatusOK, "ada@example.com")
	if len(verifier) != 43 {
		t.Errorf("code_verifier %q: want 43 characters", verifier)
	}
}

// A callback is accepted once, and only by the browser that started the
// sign-in.
func TestCallbackOnceAndOnlyHere(t *testing.T) {
	f := newFakeLatch(t)
	f.callbacks = make(chan string, 1)
	b := startApp(t, f, newClock())
	b.press("/login", nil)
	callback := <-f.callbacks

	status, page := b.open(callback)
	wantPage(t, status, page, http.StatusBadRequest, "no sign-in in progress")

	other := newBrowser(t, b.base)
	status, page = other.open(callback)
	wantPage(t, status, page, http.StatusBadRequest, "no sign-in in progress")
}

// The pending sign-in lives 10 minutes.
func TestCallbackTooLate(t *testing.T) {
	f := newFakeLatch(t)
	clk := newClock()
	f.tamper = func(url.Values) { clk.Advance(loginTTL + 1) }
	b := startApp(t, f, clk)
	status, page := b.press("/login", nil)
	wantPage(t, status, page, http.StatusBadRequest, "no sign-in in progress")
}
