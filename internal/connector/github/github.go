// Package github is the connector for GitHub accounts. GitHub is an
// OAuth 2.0 provider, not an OpenID Provider: the person is read from
// its REST API with the access token, which is then dropped.
//
// The email is only ever the account's primary address, and only when
// GitHub says it is verified; a primary address that is not verified
// gives no email at all (Email ""), so that it can neither link nor
// take an address. /user's email field is never used: it is the public
// profile address, which the owner chooses and GitHub does not verify.
package github

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"golang.org/x/oauth2"

	"github.com/latchauth/latch/internal/connector"
	"github.com/latchauth/latch/internal/connector/internal/flow"
)

// GitHub's endpoints.
const (
	AuthURL   = "https://github.com/login/oauth/authorize"
	TokenURL  = "https://github.com/login/oauth/access_token"
	UserURL   = "https://api.github.com/user"
	EmailsURL = "https://api.github.com/user/emails"
)

// apiHeaders are the headers GitHub's REST API documents.
func apiHeaders() map[string]string {
	return map[string]string{
		"Accept":               "application/vnd.github+json",
		"X-GitHub-Api-Version": "2022-11-28",
	}
}

// Scopes are the scopes asked for when the configuration names none.
func Scopes() []string { return []string{"read:user", "user:email"} }

// Check returns the problems with c's GitHub-specific settings.
func Check(c connector.Config) []string {
	var p []string
	if c.Issuer != "" {
		p = append(p, "issuer must be empty for github")
	}
	if len(c.ClientIDs) > 0 {
		p = append(p, "client_ids is not supported for github (it issues no ID tokens)")
	}
	return p
}

// Connector is one GitHub OAuth app.
type Connector struct {
	oauth  oauth2.Config
	client *http.Client
}

var _ connector.Connector = (*Connector)(nil)

// New returns the connector for c.
func New(_ context.Context, c connector.Config, o connector.Options) (*Connector, error) {
	scopes := c.Scopes
	if len(scopes) == 0 {
		scopes = Scopes()
	}
	return &Connector{
		oauth: oauth2.Config{
			ClientID: c.ClientID, ClientSecret: c.ClientSecret, RedirectURL: c.RedirectURL, Scopes: scopes,
			Endpoint: oauth2.Endpoint{AuthURL: AuthURL, TokenURL: TokenURL, AuthStyle: oauth2.AuthStyleInParams},
		},
		// GitHub answers its token endpoint form-encoded unless asked
		// for JSON; the API calls set their own Accept.
		client: flow.Client(o.Client, map[string]string{"Accept": "application/json"}),
	}, nil
}

// FormPost is false: GitHub comes back with a GET.
func (k *Connector) FormPost() bool { return false }

// AuthURL is GitHub's authorization URL for r (state and PKCE; GitHub
// has no nonce).
func (k *Connector) AuthURL(_ context.Context, r connector.Request) (string, error) {
	if r.State == "" || r.Verifier == "" {
		return "", errors.New("connector: a request needs a state and a verifier")
	}
	return k.oauth.AuthCodeURL(r.State, oauth2.S256ChallengeOption(r.Verifier)), nil
}

// Callback redeems the code and reads the user and its emails.
func (k *Connector) Callback(ctx context.Context, r connector.Request, answer map[string][]string) (connector.Identity, error) {
	code, err := flow.Code(answer)
	if err != nil {
		return connector.Identity{}, err
	}
	// GitHub answers a bad code with 200 and an error field; x/oauth2
	// reads that as an error (a RetrieveError), mapped to ErrInvalid.
	tok, err := flow.Exchange(ctx, k.client, &k.oauth, code, r.Verifier)
	if err != nil {
		return connector.Identity{}, err
	}
	var u struct {
		ID    int64  `json:"id"`
		Login string `json:"login"`
		Name  string `json:"name"`
	}
	if err := flow.GetJSON(ctx, k.client, UserURL, tok.AccessToken, apiHeaders(), &u); err != nil {
		return connector.Identity{}, err
	}
	if u.ID <= 0 {
		return connector.Identity{}, flow.Invalid("GitHub's user has no id")
	}
	var emails []struct {
		Email    string `json:"email"`
		Primary  bool   `json:"primary"`
		Verified bool   `json:"verified"`
	}
	if err := flow.GetJSON(ctx, k.client, EmailsURL, tok.AccessToken, apiHeaders(), &emails); err != nil {
		return connector.Identity{}, err
	}
	id := connector.Identity{Subject: strconv.FormatInt(u.ID, 10), Name: u.Name, Username: u.Login}
	for _, e := range emails {
		if e.Primary && e.Verified && e.Email != "" {
			id.Email, id.EmailVerified = e.Email, true
		}
	}
	return id, nil
}
