package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// fakeLatch is a tiny authorization server on loopback that speaks the
// part of latch's API the app uses. Its authorize endpoint signs
// "ada@example.com" in at once, without a page. The real latch is tested
// against this app in latch's browser suite.
type fakeLatch struct {
	srv *httptest.Server

	// Set before the test starts:
	noDiscovery bool                    // discovery answers 404
	noIssParam  bool                    // discovery does not promise iss
	expiresIn   int                     // access token lifetime, seconds
	tamper      func(q url.Values)      // edits the callback's parameters
	lastAuthz   func(q url.Values)      // sees each authorize request
	callbacks   chan string             // receives each callback URL, if set
	token       func(f url.Values) bool // false: refuse this token request

	mu        sync.Mutex
	codes     map[string]string // code → challenge
	access    map[string]bool   // live access tokens
	refresh   map[string]bool   // live refresh tokens
	refreshes int
	logouts   []string // scope of each logout
}

func newFakeLatch(t *testing.T) *fakeLatch {
	t.Helper()
	f := &fakeLatch{expiresIn: 900, codes: map[string]string{}, access: map[string]bool{}, refresh: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", f.discovery)
	// A path of its own, to show the app follows discovery; without
	// discovery the app falls back to /v1/authorize.
	mux.HandleFunc("GET /oauth/authorize", f.authorize)
	mux.HandleFunc("GET /v1/authorize", f.authorize)
	mux.HandleFunc("POST /v1/token", f.tokenEndpoint)
	mux.HandleFunc("GET /v1/user", f.user)
	mux.HandleFunc("POST /v1/logout", f.logout)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeLatch) discovery(w http.ResponseWriter, r *http.Request) {
	if f.noDiscovery {
		http.NotFound(w, r)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                 f.srv.URL,
		"authorization_endpoint": f.srv.URL + "/oauth/authorize",
		"token_endpoint":         f.srv.URL + "/v1/token",
		"authorization_response_iss_parameter_supported": !f.noIssParam,
	})
}

func (f *fakeLatch) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if f.lastAuthz != nil {
		f.lastAuthz(q)
	}
	back := url.Values{"state": {q.Get("state")}, "iss": {f.srv.URL}}
	if q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 {
		back.Set("error", "invalid_request")
	} else {
		code := randomString(16)
		f.mu.Lock()
		f.codes[code] = q.Get("code_challenge")
		f.mu.Unlock()
		back.Set("code", code)
	}
	if f.tamper != nil {
		f.tamper(back)
	}
	to := q.Get("redirect_uri") + "?" + back.Encode()
	if f.callbacks != nil {
		f.callbacks <- to
	}
	http.Redirect(w, r, to, http.StatusFound)
}

func (f *fakeLatch) tokenEndpoint(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || r.ParseForm() != nil {
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": "unsupported_media_type"})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ok := f.token == nil || f.token(r.PostForm)
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		challenge, known := f.codes[r.PostForm.Get("code")]
		delete(f.codes, r.PostForm.Get("code"))
		ok = ok && known && challengeS256(r.PostForm.Get("code_verifier")) == challenge
	case "refresh_token":
		ok = ok && f.refresh[r.PostForm.Get("refresh_token")]
		delete(f.refresh, r.PostForm.Get("refresh_token"))
		f.refreshes++
	default:
		ok = false
	}
	if !ok {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "the code or refresh token is not valid"})
		return
	}
	at, rt := "at_"+randomString(16), "lrt_"+randomString(32)
	f.access[at], f.refresh[rt] = true, true
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": at, "token_type": "Bearer", "expires_in": f.expiresIn, "refresh_token": rt,
		"user": map[string]string{"id": "u1", "email": "ada@example.com"},
	})
}

// bearer reports whether r carries a live access token.
func (f *fakeLatch) bearer(r *http.Request) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.access[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
}

func (f *fakeLatch) user(w http.ResponseWriter, r *http.Request) {
	if !f.bearer(r) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": "u1", "email": "ada@example.com"})
}

func (f *fakeLatch) logout(w http.ResponseWriter, r *http.Request) {
	if !f.bearer(r) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
		return
	}
	var body struct{ Scope string }
	_ = json.NewDecoder(r.Body).Decode(&body)
	f.endSession(false)
	f.mu.Lock()
	f.logouts = append(f.logouts, body.Scope)
	f.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// endSession makes every access token invalid, and every refresh token
// too unless keepRefresh (as after a key rotation: a refresh still works).
func (f *fakeLatch) endSession(keepRefresh bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.access)
	if !keepRefresh {
		clear(f.refresh)
	}
}

func (f *fakeLatch) counts() (refreshes int, logouts []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refreshes, append([]string(nil), f.logouts...)
}

// secrets returns every token the fake ever issued and still knows.
func (f *fakeLatch) secrets() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var s []string
	for k := range f.access {
		s = append(s, k)
	}
	for k := range f.refresh {
		s = append(s, k)
	}
	return s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
