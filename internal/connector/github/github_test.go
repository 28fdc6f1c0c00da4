package github_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/latchauth/latch/internal/connector"
	"github.com/latchauth/latch/internal/connector/github"
	"github.com/latchauth/latch/internal/connector/internal/providertest"
)

var req = connector.Request{State: "st", Nonce: "unused", Verifier: "verifier-0123456789-0123456789-0123456789-abc"}

// newGitHub answers as GitHub's documentation shows. The code names
// which account signs in; its emails differ.
func newGitHub(t *testing.T) (*providertest.Server, *github.Connector) {
	t.Helper()
	s := providertest.New(t)
	s.Mux.HandleFunc("POST /login/oauth/access_token", func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "github.com" || r.Header.Get("Accept") != "application/json" ||
			r.FormValue("client_id") != "Iv1.abc" || r.FormValue("client_secret") != "s3cret" || r.FormValue("code_verifier") != req.Verifier {
			t.Errorf("token request: host %q accept %q form %v", r.Host, r.Header.Get("Accept"), r.Form)
		}
		switch code := r.FormValue("code"); code {
		case "verified", "unverified", "down":
			providertest.JSON(w, map[string]string{"access_token": "gho_" + code, "token_type": "bearer", "scope": "read:user,user:email"})
		default: // GitHub's answer to a bad code: 200 with an error
			providertest.JSON(w, map[string]string{"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired.", "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code"})
		}
	})
	api := func(h func(w http.ResponseWriter, token string)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Host != "api.github.com" || r.Header.Get("Accept") != "application/vnd.github+json" || r.Header.Get("X-GitHub-Api-Version") != "2022-11-28" {
				t.Errorf("API request: host %q headers %v", r.Host, r.Header)
			}
			h(w, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		}
	}
	s.Mux.HandleFunc("GET /user", api(func(w http.ResponseWriter, token string) {
		if token == "gho_down" {
			http.Error(w, "oops", http.StatusBadGateway)
			return
		}
		providertest.JSON(w, map[string]any{"login": "octocat", "id": 583231, "node_id": "MDQ6VXNlcjE=", "name": "The Octocat",
			"email": "public-profile@example.com", "type": "User"})
	}))
	s.Mux.HandleFunc("GET /user/emails", api(func(w http.ResponseWriter, token string) {
		primaryVerified := token == "gho_verified"
		providertest.JSON(w, []map[string]any{
			{"email": "other@example.com", "verified": true, "primary": false, "visibility": nil},
			{"email": "octocat@github.com", "verified": primaryVerified, "primary": true, "visibility": "public"},
		})
	}))
	k, err := github.New(t.Context(), connector.Config{ID: "github", Type: "github", ClientID: "Iv1.abc", ClientSecret: "s3cret",
		RedirectURL: "https://latch.test/v1/callback/github"}, connector.Options{Client: s.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return s, k
}

func TestGitHubAuthURL(t *testing.T) {
	_, k := newGitHub(t)
	u, err := k.AuthURL(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := url.Parse(u)
	q := p.Query()
	if p.Host != "github.com" || p.Path != "/login/oauth/authorize" || q.Get("state") != "st" || q.Get("scope") != "read:user user:email" ||
		q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("client_id") != "Iv1.abc" {
		t.Errorf("got %s", u)
	}
	if k.FormPost() {
		t.Error("FormPost: got true, want false")
	}
}

func TestGitHubCallback(t *testing.T) {
	_, k := newGitHub(t)
	for _, tc := range []struct {
		code string
		want connector.Identity
	}{
		{"verified", connector.Identity{Subject: "583231", Email: "octocat@github.com", EmailVerified: true, Name: "The Octocat", Username: "octocat"}},
		// The primary is unverified: no email, and never the verified
		// non-primary one nor the profile's.
		{"unverified", connector.Identity{Subject: "583231", Name: "The Octocat", Username: "octocat"}},
	} {
		t.Run(tc.code, func(t *testing.T) {
			id, err := k.Callback(t.Context(), req, url.Values{"code": {tc.code}, "state": {"st"}})
			if err != nil {
				t.Fatal(err)
			}
			if id != tc.want {
				t.Errorf("got %+v, want %+v", id, tc.want)
			}
		})
	}
}

func TestGitHubErrors(t *testing.T) {
	_, k := newGitHub(t)
	_, err := k.Callback(t.Context(), req, url.Values{"error": {"access_denied"}, "error_description": {"The user has denied your application access."}})
	var pe *connector.ProviderError
	if !errors.As(err, &pe) || pe.Code != "access_denied" {
		t.Errorf("access_denied: got %v, want *ProviderError", err)
	}
	if _, err := k.Callback(t.Context(), req, url.Values{"state": {"st"}}); !errors.Is(err, connector.ErrInvalid) {
		t.Errorf("no code: got %v, want ErrInvalid", err)
	}
	_, err = k.Callback(t.Context(), req, url.Values{"code": {"expired"}})
	if !errors.Is(err, connector.ErrInvalid) || strings.Contains(err.Error(), "incorrect or expired") {
		t.Errorf("200 with error: got %v, want ErrInvalid without GitHub's text", err)
	}
	if _, err := k.Callback(t.Context(), req, url.Values{"code": {"down"}}); !errors.Is(err, connector.ErrUnavailable) {
		t.Errorf("502 from the API: got %v, want ErrUnavailable", err)
	}
}
