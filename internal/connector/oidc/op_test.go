package oidc_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"golang.org/x/text/language"

	"github.com/latchauth/latch/internal/connector"
	"github.com/latchauth/latch/internal/connector/oidc"
)

// The generic connector is tested against zitadel/oidc's OpenID
// Provider, with its example storage and its login page, on loopback.

const redirect = "https://latch.test/v1/callback/zitadel"

type users map[string]*storage.User

func (u users) GetUserByID(id string) *storage.User { return u[id] }
func (u users) GetUserByUsername(name string) *storage.User {
	for _, x := range u {
		if x.Username == name {
			return x
		}
	}
	return nil
}
func (u users) ExampleClientID() string { return "service" }

var people = users{
	"u1": {ID: "u1", Username: "ada", Password: "correct horse", FirstName: "Ada", LastName: "Lovelace",
		Email: "ada@example.com", EmailVerified: true, PreferredLanguage: language.English},
	"u2": {ID: "u2", Username: "bob", Password: "battery staple", FirstName: "Bob", LastName: "Unverified",
		Email: "bob@example.com", EmailVerified: false, PreferredLanguage: language.English},
}

// op is a running OpenID Provider.
type op struct {
	srv    *httptest.Server
	issuer string
	mu     sync.Mutex
	h      http.Handler // nil: down, answers 503
}

func (o *op) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	h := o.h
	o.mu.Unlock()
	if h == nil {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	h.ServeHTTP(w, r)
}

// up starts serving the OP (it answers 503 before).
func (o *op) up() {
	st := storage.NewStorageWithClients(people, map[string]*storage.Client{
		"latch": storage.WebClient("latch", "s3cret", redirect),
	})
	h := exampleop.SetupServer(o.issuer, st, nil, false)
	o.mu.Lock()
	o.h = h
	o.mu.Unlock()
}

func newOP(t *testing.T, running bool) *op {
	t.Helper()
	o := &op{}
	o.srv = httptest.NewTLSServer(o)
	t.Cleanup(o.srv.Close)
	o.issuer = o.srv.URL
	if running {
		o.up()
	}
	return o
}

func (o *op) config() connector.Config {
	return connector.Config{
		ID: "zitadel", Type: "oidc", ClientID: "latch", ClientSecret: "s3cret",
		ClientIDs: []string{"latch-ios"},
		Issuer:    o.issuer, RedirectURL: redirect, Scopes: []string{"openid", "email", "profile"},
	}
}

func (o *op) open(t *testing.T) *oidc.Connector {
	t.Helper()
	return oidc.New(t.Context(), o.config(), connector.Options{Client: o.srv.Client()}, oidc.Settings{})
}

var req = connector.Request{State: "state-123", Nonce: "nonce-456", Verifier: "verifier-0123456789-0123456789-0123456789-abc"}

// signIn is a person's browser: it follows authURL to the OP's login
// page, posts the form, and returns the values the OP sent back to
// latch's callback.
func (o *op) signIn(t *testing.T, authURL, username, password string) url.Values {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{
		Jar:       jar,
		Transport: o.srv.Client().Transport,
		CheckRedirect: func(r *http.Request, _ []*http.Request) error {
			if strings.HasPrefix(r.URL.String(), redirect) {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	resp, err := browser.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="id" value="([^"]+)"`).FindSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("login page: status %d, no form:\n%s", resp.StatusCode, page)
	}
	action := resp.Request.URL.ResolveReference(&url.URL{Path: "/login/username"})
	resp, err = browser.PostForm(action.String(), url.Values{"id": {string(m[1])}, "username": {username}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || !strings.HasPrefix(loc.String(), redirect) {
		t.Fatalf("after login: status %d, location %v, want a redirect to %s", resp.StatusCode, loc, redirect)
	}
	return loc.Query()
}

func TestOPCodeFlow(t *testing.T) {
	o := newOP(t, true)
	k := o.open(t)
	for _, tc := range []struct {
		user, password string
		want           connector.Identity
	}{
		{"ada", "correct horse", connector.Identity{Subject: "u1", Email: "ada@example.com", EmailVerified: true, Name: "Ada Lovelace", Username: "ada"}},
		{"bob", "battery staple", connector.Identity{Subject: "u2", Email: "bob@example.com", EmailVerified: false, Name: "Bob Unverified", Username: "bob"}},
	} {
		t.Run(tc.user, func(t *testing.T) {
			u, err := k.AuthURL(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			q := mustParse(t, u).Query()
			for key, want := range map[string]string{"state": req.State, "nonce": req.Nonce, "code_challenge_method": "S256", "client_id": "latch", "redirect_uri": redirect, "response_type": "code"} {
				if got := q.Get(key); got != want {
					t.Errorf("auth URL %s: got %q, want %q", key, got, want)
				}
			}
			answer := o.signIn(t, u, tc.user, tc.password)
			if answer.Get("state") != req.State {
				t.Fatalf("state: got %q, want %q", answer.Get("state"), req.State)
			}
			id, err := k.Callback(t.Context(), req, answer)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, id); d != "" {
				t.Errorf("identity (-want +got):\n%s", d)
			}
		})
	}
}

// A callback redeemed with another PKCE verifier (the OP refuses the
// code) or checked against another nonce is ErrInvalid.
func TestOPWrongVerifierOrNonce(t *testing.T) {
	for name, change := range map[string]func(*connector.Request){
		"verifier": func(r *connector.Request) { r.Verifier = "another-verifier-0123456789-0123456789-0123456789" },
		"nonce":    func(r *connector.Request) { r.Nonce = "another-nonce" },
	} {
		t.Run(name, func(t *testing.T) {
			_, k, answer := adaSignedIn(t)
			bad := req
			change(&bad)
			if _, err := k.Callback(t.Context(), bad, answer); !errors.Is(err, connector.ErrInvalid) {
				t.Fatalf("got %v, want ErrInvalid", err)
			}
		})
	}
}

// TestOPVerifyIDToken checks an ID token the OP issued, as the id_token
// grant would: the nonce raw, and as its SHA-256 hex.
func TestOPVerifyIDToken(t *testing.T) {
	o, k, answer := adaSignedIn(t)
	tok := exchange(t, o, answer.Get("code"))
	id, exp, err := k.VerifyIDToken(t.Context(), tok, req.Nonce)
	if err != nil {
		t.Fatal(err)
	}
	if id.Subject != "u1" {
		t.Errorf("subject: got %q, want u1", id.Subject)
	}
	if d := time.Until(exp); d < 50*time.Minute || d > 61*time.Minute {
		t.Errorf("expiry in %v, want about an hour", d)
	}
	if _, _, err := k.VerifyIDToken(t.Context(), tok, "other"); !errors.Is(err, connector.ErrInvalid) {
		t.Errorf("wrong nonce: got %v, want ErrInvalid", err)
	}
}

// adaSignedIn starts an OP, opens its connector and signs ada in through
// the connector's auth URL for req; it returns the OP, the connector and
// the OP's answer at the redirect.
func adaSignedIn(t *testing.T) (*op, *oidc.Connector, url.Values) {
	t.Helper()
	o := newOP(t, true)
	k := o.open(t)
	u, err := k.AuthURL(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	return o, k, o.signIn(t, u, "ada", "correct horse")
}

// exchange redeems code at the OP as a plain client would and returns
// the ID token.
func exchange(t *testing.T, o *op, code string) string {
	t.Helper()
	r, _ := http.NewRequest(http.MethodPost, o.issuer+"/oauth/token", strings.NewReader(url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {req.Verifier},
	}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth("latch", "s3cret")
	resp, err := o.srv.Client().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`"id_token":"([^"]+)"`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("token answer %d without id_token: %s", resp.StatusCode, body)
	}
	return string(m[1])
}

// TestOPDiscoveryRetry: the OP is down when the connector opens; AuthURL
// says ErrUnavailable; once the OP is up, discovery in the background
// succeeds without anyone asking.
func TestOPDiscoveryRetry(t *testing.T) {
	o := newOP(t, false)
	k := o.open(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := k.AuthURL(ctx, req); !errors.Is(err, connector.ErrUnavailable) {
		t.Fatalf("before the OP is up: got %v, want ErrUnavailable", err)
	}
	if _, err := k.Callback(ctx, req, url.Values{"code": {"x"}}); !errors.Is(err, connector.ErrUnavailable) {
		t.Fatalf("callback before the OP is up: got %v, want ErrUnavailable", err)
	}
	o.up()
	deadline := time.Now().Add(10 * time.Second)
	for !k.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("discovery did not succeed in the background after the OP came up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := k.AuthURL(ctx, req); err != nil {
		t.Fatal(err)
	}
}

// TestOPDiscoveryLateSync: AuthURL itself discovers once the OP is up.
func TestOPDiscoveryLateSync(t *testing.T) {
	o := newOP(t, false)
	k := o.open(t)
	o.up()
	if _, err := k.AuthURL(t.Context(), req); err != nil {
		t.Fatalf("got %v, want the OP found by AuthURL's own try", err)
	}
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
