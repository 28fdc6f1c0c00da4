package google_test

import (
	"crypto/rsa"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/connector"
	"github.com/latchauth/latch/internal/connector/google"
	"github.com/latchauth/latch/internal/connector/internal/providertest"
)

var req = connector.Request{State: "st", Nonce: "n-google", Verifier: "verifier-0123456789-0123456789-0123456789-abc"}

func TestGoogle(t *testing.T) {
	s := providertest.New(t)
	// Google's discovery document, as published.
	s.Mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "accounts.google.com" {
			t.Errorf("discovery from %s", r.Host)
		}
		providertest.JSON(w, map[string]any{
			"issuer": "https://accounts.google.com", "authorization_endpoint": "https://accounts.google.com/o/oauth2/v2/auth",
			"token_endpoint": "https://oauth2.googleapis.com/token", "userinfo_endpoint": "https://openidconnect.googleapis.com/v1/userinfo",
			"jwks_uri": "https://www.googleapis.com/oauth2/v3/certs", "response_types_supported": []string{"code", "token", "id_token"},
			"subject_types_supported": []string{"public"}, "id_token_signing_alg_values_supported": []string{"RS256"},
			"token_endpoint_auth_methods_supported": []string{"client_secret_post", "client_secret_basic"},
		})
	})
	s.Mux.HandleFunc("GET /oauth2/v3/certs", providertest.JWKS(map[string]*rsa.PrivateKey{s.KeyID: s.Key}))
	token := func(iss string) string {
		now := time.Now()
		return s.Sign(t, map[string]any{
			"iss": iss, "azp": "1234.apps.googleusercontent.com", "aud": "1234.apps.googleusercontent.com",
			"sub": "110169484474386276334", "hd": "example.com", "email": "jane@example.com", "email_verified": true,
			"at_hash": "HK6E_P6Dh8Y93mRNtsDB1Q", "nonce": req.Nonce, "name": "Jane Doe", "given_name": "Jane",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		})
	}
	s.Mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "oauth2.googleapis.com" || r.FormValue("code_verifier") != req.Verifier {
			t.Errorf("token request: host %q form %v", r.Host, r.Form)
		}
		providertest.JSON(w, map[string]any{"access_token": "ya29.a0", "expires_in": 3599, "scope": "openid email profile",
			"token_type": "Bearer", "id_token": token("https://accounts.google.com")})
	})
	k, err := google.New(t.Context(), connector.Config{ID: "google", Type: "google", ClientID: "1234.apps.googleusercontent.com",
		ClientSecret: "s3cret", RedirectURL: "https://latch.test/v1/callback/google"}, connector.Options{Client: s.Client()})
	if err != nil {
		t.Fatal(err)
	}
	want := connector.Identity{Subject: "110169484474386276334", Email: "jane@example.com", EmailVerified: true, Name: "Jane Doe"}
	id, err := k.Callback(t.Context(), req, url.Values{"code": {"4/0A"}, "state": {"st"}})
	if err != nil || id != want {
		t.Errorf("Callback: got %+v, %v; want %+v", id, err, want)
	}
	// Google's tokens may name the issuer without its scheme.
	id, _, err = k.VerifyIDToken(t.Context(), token("accounts.google.com"), req.Nonce)
	if err != nil || id != want {
		t.Errorf("iss without scheme: got %+v, %v; want %+v", id, err, want)
	}
	if _, _, err := k.VerifyIDToken(t.Context(), token("https://accounts.google.com.evil.example"), req.Nonce); err == nil {
		t.Error("another issuer: accepted")
	}
}
