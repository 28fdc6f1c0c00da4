package providers_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/connector"
	"github.com/latchauth/latch/internal/connector/providers"
)

func TestTypesAndDefaults(t *testing.T) {
	want := []string{"apple", "github", "gitlab", "google", "microsoft", "oidc"}
	if got := providers.Types(); !slices.Equal(got, want) {
		t.Errorf("Types: got %v, want %v", got, want)
	}
	for _, tc := range []struct {
		typ    string
		trust  bool
		scopes []string
	}{
		{"oidc", false, []string{"openid", "email", "profile"}},
		{"google", true, []string{"openid", "email", "profile"}},
		{"microsoft", false, []string{"openid", "email", "profile"}},
		{"gitlab", false, []string{"openid", "email", "profile"}},
		{"apple", true, []string{"name", "email"}},
		{"github", false, []string{"read:user", "user:email"}},
		{"nope", false, nil},
	} {
		trust, scopes := providers.Defaults(tc.typ)
		if trust != tc.trust || !slices.Equal(scopes, tc.scopes) {
			t.Errorf("Defaults(%s): got %v %v, want %v %v", tc.typ, trust, scopes, tc.trust, tc.scopes)
		}
	}
}

func appleKey(t *testing.T) []byte {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// TestCheck: every bad setting is reported, each naming its field.
func TestCheck(t *testing.T) {
	base := func(typ string) connector.Config {
		return connector.Config{ID: "p", Type: typ, ClientID: "id", ClientSecret: "secret"}
	}
	withIssuer := func(typ, iss string) connector.Config { c := base(typ); c.Issuer = iss; return c }
	for _, tc := range []struct {
		name string
		c    connector.Config
		want []string // a word each problem must hold, in order
	}{
		{"unknown type", connector.Config{Type: "facebook"}, []string{"type"}},
		{"oidc good", withIssuer("oidc", "https://id.example.com"), nil},
		{"oidc on loopback http", withIssuer("oidc", "http://127.0.0.1:5556/dex"), nil},
		{"oidc missing everything", connector.Config{Type: "oidc"}, []string{"client_id", "client_secret", "issuer"}},
		{"oidc http elsewhere", withIssuer("oidc", "http://id.example.com"), []string{"issuer"}},
		{"oidc not a URL", withIssuer("oidc", "id.example.com"), []string{"issuer"}},
		{"oidc without openid", func() connector.Config {
			c := withIssuer("oidc", "https://id.example.com")
			c.Scopes = []string{"email"}
			return c
		}(), []string{"scopes"}},
		{"google good", base("google"), nil},
		{"google with an issuer", withIssuer("google", "https://evil.example.com"), []string{"issuer"}},
		{"microsoft common by default", base("microsoft"), nil},
		{"microsoft bad tenant", withIssuer("microsoft", "https://login.microsoftonline.com/not a tenant/v2.0"), []string{"issuer"}},
		{"microsoft another host", withIssuer("microsoft", "https://login.example.com/common/v2.0"), []string{"issuer"}},
		{"gitlab self-hosted", withIssuer("gitlab", "https://gitlab.example.org"), nil},
		{"gitlab bad issuer", withIssuer("gitlab", "ftp://gitlab.example.org"), []string{"issuer"}},
		{"github good", base("github"), nil},
		{"github with client_ids", func() connector.Config { c := base("github"); c.ClientIDs = []string{"x"}; return c }(), []string{"client_ids"}},
		{"apple good, no secret needed", connector.Config{Type: "apple", ClientID: "com.example", TeamID: "T", KeyID: "K", PrivateKey: appleKey(t)}, nil},
		{"apple missing everything", connector.Config{Type: "apple"}, []string{"client_id", "team_id", "key_id", "private_key"}},
		{"apple bad key", connector.Config{Type: "apple", ClientID: "c", TeamID: "T", KeyID: "K", PrivateKey: []byte("nope")}, []string{"private key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := providers.Check(tc.c)
			if len(got) != len(tc.want) {
				t.Fatalf("got %q, want %d problems about %v", got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d: got %q, want it to name %s", i, got[i], w)
				}
			}
		})
	}
}

func TestOpen(t *testing.T) {
	// A provider that is down: Open still succeeds.
	down := httptest.NewTLSServer(http.NotFoundHandler())
	client := down.Client()
	client.Timeout = 2 * time.Second
	down.Close()
	o := connector.Options{Client: client}
	for _, typ := range []string{"oidc", "google", "microsoft", "gitlab", "github"} {
		c := connector.Config{ID: typ, Type: typ, ClientID: "id", ClientSecret: "s", RedirectURL: "https://latch.test/v1/callback/" + typ}
		if typ == "oidc" {
			c.Issuer = "https://id.example.com"
		}
		k, err := providers.Open(t.Context(), c, o)
		if err != nil || k == nil {
			t.Errorf("Open(%s): got %v", typ, err)
		}
		if _, ok := k.(connector.TokenVerifier); ok == (typ == "github") {
			t.Errorf("Open(%s): TokenVerifier %v", typ, ok)
		}
	}
	k, err := providers.Open(t.Context(), connector.Config{ID: "apple", Type: "apple", ClientID: "c", TeamID: "T", KeyID: "K", PrivateKey: appleKey(t)}, o)
	if err != nil || !k.FormPost() {
		t.Errorf("Open(apple): got %v", err)
	}
	if _, err := providers.Open(t.Context(), connector.Config{ID: "x", Type: "facebook"}, o); err == nil || errors.Is(err, connector.ErrUnavailable) {
		t.Errorf("Open(unknown type): got %v, want a configuration error", err)
	}
}
