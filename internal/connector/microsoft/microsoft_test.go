package microsoft_test

import (
	"crypto/rsa"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/connector"
	"github.com/latchauth/latch/internal/connector/internal/providertest"
	"github.com/latchauth/latch/internal/connector/microsoft"
	"github.com/latchauth/latch/internal/connector/oidc"
)

const (
	tenantA = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	tenantB = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
	host    = "https://login.microsoftonline.com/"
)

var req = connector.Request{State: "st", Nonce: "n-0S6_WzA2Mj", Verifier: "verifier-0123456789-0123456789-0123456789-abc"}

// newEntra answers as Microsoft identity platform's v2.0 endpoint: the
// discovery document of common and organizations has the issuer
// template with {tenantid}; a tenant's names that tenant; consumers'
// names the consumers tenant.
func newEntra(t *testing.T) *providertest.Server {
	t.Helper()
	s := providertest.New(t)
	s.Mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		tenant := r.PathValue("tenant")
		iss := host + tenant + "/v2.0"
		switch tenant {
		case "common", "organizations":
			iss = host + "{tenantid}/v2.0"
		case "consumers":
			iss = host + microsoft.ConsumersTenant + "/v2.0"
		case "contoso.onmicrosoft.com":
			iss = host + tenantA + "/v2.0"
		}
		providertest.JSON(w, map[string]any{
			"issuer":                                iss,
			"authorization_endpoint":                host + tenant + "/oauth2/v2.0/authorize",
			"token_endpoint":                        host + tenant + "/oauth2/v2.0/token",
			"jwks_uri":                              host + tenant + "/discovery/v2.0/keys",
			"userinfo_endpoint":                     "https://graph.microsoft.com/oidc/userinfo",
			"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"response_modes_supported":              []string{"query", "fragment", "form_post"},
		})
	})
	s.Mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", providertest.JWKS(map[string]*rsa.PrivateKey{s.KeyID: s.Key}))
	return s
}

func open(t *testing.T, s *providertest.Server, issuer string) *oidc.Connector {
	t.Helper()
	k, err := microsoft.New(t.Context(), connector.Config{ID: "microsoft", Type: "microsoft", ClientID: "6731de76-14a6-49ae-97bc-6eba6914391e",
		ClientSecret: "s3cret", Issuer: issuer, RedirectURL: "https://latch.test/v1/callback/microsoft"}, connector.Options{Client: s.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func token(t *testing.T, s *providertest.Server, tenant string, extra map[string]any) string {
	t.Helper()
	now := time.Now()
	c := map[string]any{
		"ver": "2.0", "iss": host + tenant + "/v2.0", "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
		"aud": "6731de76-14a6-49ae-97bc-6eba6914391e", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "nbf": now.Unix(),
		"name": "Abe Lincoln", "preferred_username": "AbeLi@microsoft.com", "oid": "00000000-0000-0000-66f3-3332eca7ea81",
		"email": "AbeLi@microsoft.com", "tid": tenant, "nonce": req.Nonce,
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return s.Sign(t, c)
}

func TestMicrosoftTenants(t *testing.T) {
	s := newEntra(t)
	for _, tc := range []struct {
		name, issuer, tenant string
		extra                map[string]any
		ok                   bool
	}{
		{"common, a work account", "", tenantA, nil, true},
		{"common, a personal account", host + "common/v2.0", microsoft.ConsumersTenant, nil, true},
		{"common, iss of another tenant than tid", "", tenantA, map[string]any{"tid": tenantB}, false},
		{"common, tid not a GUID", "", tenantA, map[string]any{"tid": "{tenantid}", "iss": host + "{tenantid}/v2.0"}, false},
		{"common, no tid", "", tenantA, map[string]any{"tid": nil}, false},
		{"organizations, a work account", host + "organizations/v2.0", tenantB, nil, true},
		{"organizations refuses personal accounts", host + "organizations/v2.0", microsoft.ConsumersTenant, nil, false},
		{"consumers, a personal account", host + "consumers/v2.0", microsoft.ConsumersTenant, nil, true},
		{"consumers refuses a work account", host + "consumers/v2.0", tenantA, nil, false},
		{"single tenant, its own token", host + tenantA + "/v2.0", tenantA, nil, true},
		{"single tenant, a token of another tenant", host + tenantA + "/v2.0", tenantB, nil, false},
		{"single tenant by domain", host + "contoso.onmicrosoft.com/v2.0", tenantA, nil, true},
		{"single tenant by domain, another tenant", host + "contoso.onmicrosoft.com/v2.0", tenantB, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := open(t, s, tc.issuer)
			id, _, err := k.VerifyIDToken(t.Context(), token(t, s, tc.tenant, tc.extra), req.Nonce)
			if tc.ok && err != nil {
				t.Fatalf("got %v, want the token accepted", err)
			}
			if !tc.ok && !errors.Is(err, connector.ErrInvalid) {
				t.Fatalf("got %+v, %v; want ErrInvalid", id, err)
			}
		})
	}
}

// TestMicrosoftEmailNotVerified: Microsoft's email is not verified by
// Microsoft (nOAuth) unless xms_edov says its domain's owner verified it.
func TestMicrosoftEmailNotVerified(t *testing.T) {
	s := newEntra(t)
	k := open(t, s, "")
	for _, tc := range []struct {
		name  string
		extra map[string]any
		want  bool
	}{
		{"no xms_edov, even with email_verified", map[string]any{"email_verified": true}, false},
		{"xms_edov false", map[string]any{"xms_edov": false}, false},
		{"xms_edov true", map[string]any{"xms_edov": true}, true},
		{"xms_edov \"true\"", map[string]any{"xms_edov": "true"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, _, err := k.VerifyIDToken(t.Context(), token(t, s, tenantA, tc.extra), req.Nonce)
			if err != nil {
				t.Fatal(err)
			}
			want := connector.Identity{Subject: "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ", Email: "AbeLi@microsoft.com", EmailVerified: tc.want,
				Name: "Abe Lincoln", Username: "AbeLi@microsoft.com"}
			if id != want {
				t.Errorf("got %+v, want %+v", id, want)
			}
		})
	}
}

func TestMicrosoftCallback(t *testing.T) {
	s := newEntra(t)
	s.Mux.HandleFunc("POST /common/oauth2/v2.0/token", func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "6731de76-14a6-49ae-97bc-6eba6914391e" || p != "s3cret" || r.FormValue("code_verifier") != req.Verifier {
			w.WriteHeader(http.StatusUnauthorized)
			providertest.JSON(w, map[string]string{"error": "invalid_client"})
			return
		}
		providertest.JSON(w, map[string]any{"token_type": "Bearer", "scope": "openid profile email", "expires_in": 3599,
			"access_token": "eyJ0eXAi", "id_token": token(t, s, tenantB, nil)})
	})
	k := open(t, s, "")
	u, err := k.AuthURL(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := url.Parse(u); p.Host != "login.microsoftonline.com" || p.Path != "/common/oauth2/v2.0/authorize" {
		t.Errorf("auth URL: got %s", u)
	}
	id, err := k.Callback(t.Context(), req, url.Values{"code": {"0.AAAA"}, "state": {"st"}})
	if err != nil {
		t.Fatal(err)
	}
	if id.Subject != "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ" || id.EmailVerified {
		t.Errorf("got %+v, want the sub and an unverified email", id)
	}
}

func TestMicrosoftCheck(t *testing.T) {
	for issuer, ok := range map[string]bool{
		"": true, host + "common/v2.0": true, host + "organizations/v2.0": true, host + "consumers/v2.0": true,
		host + tenantA + "/v2.0": true, host + "contoso.onmicrosoft.com/v2.0": true,
		host + "common": false, "https://login.example.com/common/v2.0": false, host + "not a tenant/v2.0": false,
		host + "common/v2.0/": false,
	} {
		if got := len(microsoft.Check(connector.Config{Issuer: issuer})) == 0; got != ok {
			t.Errorf("Check(issuer %q): ok %v, want %v", issuer, got, ok)
		}
	}
}
