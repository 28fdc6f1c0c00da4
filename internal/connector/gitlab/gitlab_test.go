package gitlab_test

import (
	"crypto/rsa"
	"net/http"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/connector"
	"github.com/latchauth/latch/internal/connector/gitlab"
	"github.com/latchauth/latch/internal/connector/internal/providertest"
)

func TestGitLab(t *testing.T) {
	for _, issuer := range []string{"", "https://gitlab.example.org"} {
		t.Run("issuer "+issuer, func(t *testing.T) {
			want := issuer
			if want == "" {
				want = "https://gitlab.com"
			}
			s := providertest.New(t)
			s.Mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
				providertest.JSON(w, map[string]any{"issuer": want, "authorization_endpoint": want + "/oauth/authorize",
					"token_endpoint": want + "/oauth/token", "jwks_uri": want + "/oauth/discovery/keys",
					"userinfo_endpoint": want + "/oauth/userinfo", "id_token_signing_alg_values_supported": []string{"RS256"}})
			})
			s.Mux.HandleFunc("GET /oauth/discovery/keys", providertest.JWKS(map[string]*rsa.PrivateKey{s.KeyID: s.Key}))
			k, err := gitlab.New(t.Context(), connector.Config{ID: "gitlab", Type: "gitlab", ClientID: "app", ClientSecret: "s",
				Issuer: issuer, RedirectURL: "https://latch.test/v1/callback/gitlab"}, connector.Options{Client: s.Client()})
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			id, _, err := k.VerifyIDToken(t.Context(), s.Sign(t, map[string]any{"iss": want, "sub": "1", "aud": "app", "nonce": "n",
				"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "email": "a@example.com", "email_verified": true,
				"preferred_username": "root", "name": "Administrator"}), "n")
			if w := (connector.Identity{Subject: "1", Email: "a@example.com", EmailVerified: true, Name: "Administrator", Username: "root"}); err != nil || id != w {
				t.Errorf("got %+v, %v; want %+v", id, err, w)
			}
		})
	}
}
