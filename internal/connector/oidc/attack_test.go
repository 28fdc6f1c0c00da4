package oidc_test

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/latchauth/latch/internal/connector"
	"github.com/latchauth/latch/internal/connector/internal/providertest"
	"github.com/latchauth/latch/internal/connector/oidc"
)

const issuer = "https://id.example.com"

// fakeOP answers discovery, JWKS and a token endpoint whose ID token
// the test chooses, as any OpenID Provider would.
type fakeOP struct {
	*providertest.Server
	mu      sync.Mutex
	idToken string
	token   http.HandlerFunc // replaces the token endpoint when set
}

func newFakeOP(t *testing.T) *fakeOP {
	t.Helper()
	f := &fakeOP{Server: providertest.New(t)}
	f.Mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		providertest.JSON(w, map[string]any{
			"issuer": issuer, "authorization_endpoint": issuer + "/authorize", "token_endpoint": issuer + "/token",
			"jwks_uri": issuer + "/jwks", "id_token_signing_alg_values_supported": []string{"RS256", "HS256", "none"},
			"response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
		})
	})
	f.Mux.HandleFunc("GET /jwks", providertest.JWKS(map[string]*rsa.PrivateKey{f.KeyID: f.Key}))
	f.Mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		tok, h := f.idToken, f.token
		f.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		if r.FormValue("code") != "good-code" || r.FormValue("code_verifier") != req.Verifier {
			w.WriteHeader(http.StatusBadRequest)
			providertest.JSON(w, map[string]string{"error": "invalid_grant"})
			return
		}
		providertest.JSON(w, map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 3600, "id_token": tok})
	})
	return f
}

func (f *fakeOP) set(tok string) {
	f.mu.Lock()
	f.idToken = tok
	f.mu.Unlock()
}

func (f *fakeOP) open(t *testing.T) *oidc.Connector {
	t.Helper()
	return oidc.New(t.Context(), connector.Config{
		ID: "fake", Type: "oidc", ClientID: "latch", ClientSecret: "s3cret", ClientIDs: []string{"latch-ios"},
		Issuer: issuer, RedirectURL: redirect,
	}, connector.Options{Client: f.Client()}, oidc.Settings{})
}

func goodClaims() map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": issuer, "sub": "248289761001", "aud": "latch", "nonce": req.Nonce,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"email": "jane@example.com", "email_verified": true, "name": "Jane Doe", "preferred_username": "jane",
	}
}

func with(m map[string]any, kv ...any) map[string]any {
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(m, kv[i].(string))
		} else {
			m[kv[i].(string)] = kv[i+1]
		}
	}
	return m
}

var code = url.Values{"code": {"good-code"}, "state": {req.State}}

func TestFakeOPGood(t *testing.T) {
	f := newFakeOP(t)
	k := f.open(t)
	for name, c := range map[string]map[string]any{
		"plain":                      goodClaims(),
		"email_verified as a string": with(goodClaims(), "email_verified", "true"),
		"several audiences with azp": with(goodClaims(), "aud", []string{"latch", "other"}, "azp", "latch"),
	} {
		t.Run(name, func(t *testing.T) {
			f.set(f.Sign(t, c))
			id, err := k.Callback(t.Context(), req, code)
			if err != nil {
				t.Fatal(err)
			}
			want := connector.Identity{Subject: "248289761001", Email: "jane@example.com", EmailVerified: true, Name: "Jane Doe", Username: "jane"}
			if id != want {
				t.Errorf("got %+v, want %+v", id, want)
			}
		})
	}
}

// TestAttacks: each forged or misdirected ID token is refused with
// ErrInvalid, by Callback and by VerifyIDToken.
func TestAttacks(t *testing.T) {
	f := newFakeOP(t)
	k := f.open(t)
	other := providertest.NewKey(t)
	now := time.Now()
	for _, tc := range []struct {
		name  string
		token func(t *testing.T) string
	}{
		{"wrong nonce", func(t *testing.T) string { return f.Sign(t, with(goodClaims(), "nonce", "not-the-nonce")) }},
		{"no nonce", func(t *testing.T) string { return f.Sign(t, with(goodClaims(), "nonce", nil)) }},
		{"wrong aud", func(t *testing.T) string { return f.Sign(t, with(goodClaims(), "aud", "someone-else")) }},
		{"wrong iss", func(t *testing.T) string { return f.Sign(t, with(goodClaims(), "iss", "https://evil.example.com")) }},
		{"expired", func(t *testing.T) string {
			return f.Sign(t, with(goodClaims(), "iat", now.Add(-2*time.Hour).Unix(), "exp", now.Add(-time.Hour).Unix()))
		}},
		{"iat in the future", func(t *testing.T) string {
			return f.Sign(t, with(goodClaims(), "iat", now.Add(10*time.Minute).Unix(), "exp", now.Add(2*time.Hour).Unix()))
		}},
		{"no iat", func(t *testing.T) string { return f.Sign(t, with(goodClaims(), "iat", nil)) }},
		{"signed by another key", func(t *testing.T) string {
			return providertest.Sign(t, jose.RS256, other, f.KeyID, goodClaims())
		}},
		{"signed by another key with an unknown kid", func(t *testing.T) string {
			return providertest.Sign(t, jose.RS256, other, "key-2", goodClaims())
		}},
		{"alg none", func(t *testing.T) string { return providertest.Unsigned(t, goodClaims()) }},
		{"HS256 keyed with the provider's public key", func(t *testing.T) string {
			return providertest.Sign(t, jose.HS256, providertest.PublicPEM(t, f.Key), f.KeyID, goodClaims())
		}},
		{"several audiences, azp another client", func(t *testing.T) string {
			return f.Sign(t, with(goodClaims(), "aud", []string{"latch", "other"}, "azp", "other"))
		}},
		{"several audiences, no azp", func(t *testing.T) string {
			return f.Sign(t, with(goodClaims(), "aud", []string{"latch", "other"}))
		}},
		{"no sub", func(t *testing.T) string { return f.Sign(t, with(goodClaims(), "sub", nil)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := tc.token(t)
			f.set(tok)
			if id, err := k.Callback(t.Context(), req, code); !errors.Is(err, connector.ErrInvalid) {
				t.Errorf("Callback: got %+v, %v; want ErrInvalid", id, err)
			}
			if id, _, err := k.VerifyIDToken(t.Context(), tok, req.Nonce); !errors.Is(err, connector.ErrInvalid) {
				t.Errorf("VerifyIDToken: got %+v, %v; want ErrInvalid", id, err)
			}
		})
	}
}

func TestVerifyIDTokenAudiencesAndNonces(t *testing.T) {
	f := newFakeOP(t)
	k := f.open(t)
	sum := sha256.Sum256([]byte(req.Nonce))
	for _, tc := range []struct {
		name, aud, nonce string
		ok               bool
	}{
		{"web client, raw nonce", "latch", req.Nonce, true},
		{"native client, hashed nonce", "latch-ios", hex.EncodeToString(sum[:]), true},
		{"unknown client", "latch-android", req.Nonce, false},
		{"nonce hashed twice", "latch", "x" + hex.EncodeToString(sum[:]), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp := time.Now().Add(time.Hour).Truncate(time.Second)
			tok := f.Sign(t, with(goodClaims(), "aud", tc.aud, "nonce", tc.nonce, "exp", exp.Unix()))
			id, gotExp, err := k.VerifyIDToken(t.Context(), tok, req.Nonce)
			if !tc.ok {
				if !errors.Is(err, connector.ErrInvalid) {
					t.Fatalf("got %v, want ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if id.Subject != "248289761001" || !gotExp.Equal(exp) {
				t.Errorf("got %q %v, want 248289761001 %v", id.Subject, gotExp, exp)
			}
		})
	}
	if _, _, err := k.VerifyIDToken(t.Context(), f.Sign(t, goodClaims()), ""); !errors.Is(err, connector.ErrInvalid) {
		t.Errorf("empty nonce: got %v, want ErrInvalid", err)
	}
}

func TestCallbackAnswers(t *testing.T) {
	f := newFakeOP(t)
	k := f.open(t)
	f.set(f.Sign(t, goodClaims()))
	_, err := k.Callback(t.Context(), req, url.Values{"error": {"access_denied"}, "error_description": {"The user cancelled"}, "state": {req.State}})
	var pe *connector.ProviderError
	if !errors.As(err, &pe) || pe.Code != "access_denied" || pe.Description != "The user cancelled" {
		t.Errorf("access_denied: got %v, want *ProviderError access_denied", err)
	}
	if _, err := k.Callback(t.Context(), req, url.Values{"state": {req.State}}); !errors.Is(err, connector.ErrInvalid) {
		t.Errorf("no code: got %v, want ErrInvalid", err)
	}
	if _, err := k.Callback(t.Context(), req, url.Values{"code": {"stolen-code"}}); !errors.Is(err, connector.ErrInvalid) {
		t.Errorf("refused code: got %v, want ErrInvalid", err)
	}
}

func TestProviderDown(t *testing.T) {
	f := newFakeOP(t)
	k := f.open(t)
	if _, err := k.AuthURL(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.token = func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"secret":"body"}`, http.StatusInternalServerError)
	}
	f.mu.Unlock()
	_, err := k.Callback(t.Context(), req, code)
	if !errors.Is(err, connector.ErrUnavailable) {
		t.Fatalf("500: got %v, want ErrUnavailable", err)
	}
	if s := err.Error(); strings.Contains(s, "secret") || strings.Contains(s, "good-code") {
		t.Errorf("error text %q holds the body or the code", s)
	}
}

// TestProviderSlow: a token endpoint that does not answer makes
// Callback give up with ErrUnavailable at the request's deadline, and
// leaves no goroutine behind.
func TestProviderSlow(t *testing.T) {
	f := newFakeOP(t)
	client := f.Client()
	k := oidc.New(t.Context(), connector.Config{ID: "fake", ClientID: "latch", ClientSecret: "s", Issuer: issuer, RedirectURL: redirect},
		connector.Options{Client: client}, oidc.Settings{})
	if _, err := k.AuthURL(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.token = func(w http.ResponseWriter, r *http.Request) { _ = r.ParseForm(); <-r.Context().Done() }
	f.mu.Unlock()
	client.CloseIdleConnections()
	base := runtime.NumGoroutine()

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := k.Callback(ctx, req, code)
	if !errors.Is(err, connector.ErrUnavailable) {
		t.Fatalf("got %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Callback took %v, want about the 300ms deadline", d)
	}
	client.CloseIdleConnections()
	providertest.NoLeak(t, base)
}

// TestKeysUnavailable: keys that cannot be fetched are ErrUnavailable,
// not a bad token.
func TestKeysUnavailable(t *testing.T) {
	f := newFakeOP(t)
	f.Mux.HandleFunc("GET /jwks-down", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	k := oidc.New(t.Context(), connector.Config{ID: "fake", ClientID: "latch", ClientSecret: "s", RedirectURL: redirect},
		connector.Options{Client: f.Client()}, oidc.Settings{Static: &gooidc.ProviderConfig{
			IssuerURL: issuer, AuthURL: issuer + "/authorize", TokenURL: issuer + "/token", JWKSURL: issuer + "/jwks-down",
		}})
	if _, _, err := k.VerifyIDToken(t.Context(), f.Sign(t, goodClaims()), req.Nonce); !errors.Is(err, connector.ErrUnavailable) {
		t.Fatalf("got %v, want ErrUnavailable", err)
	}
}
