package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/latchauth/latch/verify"
)

// fakeLatch serves discovery and a JWKS like latch, and signs access
// tokens with its one ES256 key.
type fakeLatch struct {
	srv    *httptest.Server
	signer jose.Signer
}

func newFakeLatch(t *testing.T) *fakeLatch {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub := jose.JSONWebKey{Key: &priv.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}
	f := &fakeLatch{}
	f.signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: priv},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": f.srv.URL, "jwks_uri": f.srv.URL + "/.well-known/jwks.json"})
	})
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub}})
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// token is an access token for alice, as latch would issue it now.
func (f *fakeLatch) token(t *testing.T) string {
	t.Helper()
	now := time.Now()
	claims, err := json.Marshal(map[string]any{
		"iss": f.srv.URL, "aud": f.srv.URL, "sub": "0b5e1f0e-8a43-4b69-9c3a-2f6f2f9c6d11",
		"exp": now.Add(15 * time.Minute).Unix(), "iat": now.Unix(), "jti": "j1", "client_id": "latch",
		"sid": "s1", "amr": []string{"pwd"}, "aal": "aal1", "email": "alice@example.com", "email_verified": true,
	})
	if err != nil {
		t.Fatal(err)
	}
	jws, err := f.signer.Sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestHello(t *testing.T) {
	f := newFakeLatch(t)
	v, err := verify.New(context.Background(), f.srv.URL, verify.Options{Audience: []string{f.srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	h := newServer(v)
	tests := []struct {
		name      string
		auth      string
		status    int
		challenge string
		body      map[string]string
	}{
		{
			name:   "with a token",
			auth:   "Bearer " + f.token(t),
			status: http.StatusOK,
			body:   map[string]string{"hello": "alice@example.com", "sub": "0b5e1f0e-8a43-4b69-9c3a-2f6f2f9c6d11"},
		},
		{
			name:      "without a token",
			status:    http.StatusUnauthorized,
			challenge: `Bearer realm="` + f.srv.URL + `"`,
			body:      map[string]string{"error": "invalid_token", "error_description": "the request has no Bearer access token"},
		},
		{
			name:      "with a forged token",
			auth:      "Bearer " + forge(f.token(t)),
			status:    http.StatusUnauthorized,
			challenge: `Bearer realm="` + f.srv.URL + `", error="invalid_token", error_description="the access token's signature is invalid"`,
			body:      map[string]string{"error": "invalid_token", "error_description": "the access token's signature is invalid"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/hello", nil)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Errorf("status: got %d, want %d", w.Code, tt.status)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate: got %q, want %q", got, tt.challenge)
			}
			var body map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", w.Body, err)
			}
			if diff := cmp.Diff(tt.body, body); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

// forge swaps the claims of a signed token for others.
func forge(raw string) string {
	s := strings.Split(raw, ".")
	return s[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin"}`)) + "." + s[2]
}

// run fails at once, saying why, when latch cannot be reached.
func TestRunWithoutLatch(t *testing.T) {
	env := map[string]string{"LATCH_ISSUER": "http://127.0.0.1:1"}
	var stderr bytes.Buffer
	err := run(context.Background(), func(k string) string { return env[k] }, &stderr)
	if !errors.Is(err, verify.ErrUnavailable) || !strings.Contains(err.Error(), "is latch running?") {
		t.Errorf("run: got %v, want ErrUnavailable with a hint", err)
	}
}
