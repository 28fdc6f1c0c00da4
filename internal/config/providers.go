package config

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/latchauth/latch/internal/connector"
	"github.com/latchauth/latch/internal/connector/providers"
)

// Provider is one entry of the providers list: a social provider people
// may sign in with. Its secret may also come from
// LATCH_PROVIDER_<ID>_CLIENT_SECRET or from a file.
type Provider struct {
	ID               string   `yaml:"id"`
	Type             string   `yaml:"type"`
	Name             string   `yaml:"name"` // what the sign-in button says: "Continue with <name>"
	ClientID         string   `yaml:"client_id"`
	ClientIDs        []string `yaml:"client_ids"`
	ClientSecret     Secret   `yaml:"client_secret"`
	ClientSecretFile string   `yaml:"client_secret_file"`
	TeamID           string   `yaml:"team_id"`
	KeyID            string   `yaml:"key_id"`
	PrivateKeyFile   string   `yaml:"private_key_file"`
	Issuer           string   `yaml:"issuer"`
	Scopes           []string `yaml:"scopes"`
	TrustEmail       *bool    `yaml:"trust_email"`
	AllowSignup      *bool    `yaml:"allow_signup"`
}

// Social is the social providers, checked and ready for the connectors.
type Social struct {
	Providers []Provider
	// Connectors are the providers as the connectors take them, in the
	// order of the list: secrets read, defaults applied, the callback URL
	// set. Load fills it.
	Connectors []connector.Config
}

var providerID = regexp.MustCompile(`^[a-z0-9_]{1,32}$`)

// SecretEnv is the environment variable that may hold a provider's
// client secret: LATCH_PROVIDER_<ID>_CLIENT_SECRET.
func SecretEnv(id string) string { return "LATCH_PROVIDER_" + strings.ToUpper(id) + "_CLIENT_SECRET" }

// connectors resolves the providers' secrets (the environment over the
// file's value; a *_file when neither is set), applies the defaults of
// each type and checks every provider, naming it in each problem.
func (s *Social) connectors(getenv func(string) string, publicURL string) []string {
	var p report
	s.Connectors = nil
	seen := map[string]bool{}
	for i, pr := range s.Providers {
		name := pr.ID
		if !providerID.MatchString(pr.ID) {
			p.check(true, fmt.Sprintf("providers: item %d: id must be 1 to 32 characters of a-z, 0-9 and _", i+1))
			continue
		}
		if seen[pr.ID] {
			p.check(true, fmt.Sprintf("providers: %s: the id is used twice", name))
			continue
		}
		seen[pr.ID] = true
		secret := string(pr.ClientSecret)
		if getenv != nil && getenv(SecretEnv(pr.ID)) != "" {
			secret = getenv(SecretEnv(pr.ID))
		}
		if pr.ClientSecretFile != "" {
			b, err := os.ReadFile(pr.ClientSecretFile)
			switch {
			case secret != "":
				p.check(true, fmt.Sprintf("providers: %s: client_secret_file and a client secret are both set; keep one", name))
			case err != nil:
				p.check(true, fmt.Sprintf("providers: %s: client_secret_file cannot be read", name))
			default:
				secret = strings.TrimSpace(string(b))
			}
		}
		var key []byte
		if pr.PrivateKeyFile != "" {
			b, err := os.ReadFile(pr.PrivateKeyFile)
			p.check(err != nil, fmt.Sprintf("providers: %s: private_key_file cannot be read", name))
			key = b
		}
		trust, scopes := providers.Defaults(pr.Type)
		if pr.TrustEmail != nil {
			trust = *pr.TrustEmail
		}
		if pr.Scopes != nil {
			scopes = pr.Scopes
		}
		c := connector.Config{
			ID: pr.ID, Type: pr.Type, ClientID: pr.ClientID, ClientIDs: pr.ClientIDs, ClientSecret: secret,
			TeamID: pr.TeamID, KeyID: pr.KeyID, PrivateKey: key, Issuer: pr.Issuer, Scopes: scopes,
			TrustEmail: trust, AllowSignup: pr.AllowSignup == nil || *pr.AllowSignup,
			RedirectURL: strings.TrimSuffix(publicURL, "/") + "/v1/callback/" + pr.ID,
		}
		for _, msg := range providers.Check(c) {
			p.check(true, fmt.Sprintf("providers: %s: %s", name, msg))
		}
		s.Connectors = append(s.Connectors, c)
	}
	return p
}

// Name is what the pages and messages call the provider with this id.
func (s Social) Name(id string) string {
	for _, pr := range s.Providers {
		if pr.ID == id {
			return pr.DisplayName()
		}
	}
	return id
}

// DisplayName is what the pages call a provider: its name setting, or a
// name made from its type.
func (pr Provider) DisplayName() string {
	if pr.Name != "" {
		return pr.Name
	}
	switch pr.Type {
	case "github":
		return "GitHub"
	case "gitlab":
		return "GitLab"
	case "oidc":
		return pr.ID
	}
	if pr.Type == "" {
		return pr.ID
	}
	return strings.ToUpper(pr.Type[:1]) + pr.Type[1:]
}
