// Package apple is the connector for Sign in with Apple: an OpenID
// Provider with fixed endpoints at https://appleid.apple.com, run by
// connector/oidc, that answers with response_mode=form_post, whose
// client secret is a short-lived ES256 JWT made from the developer's
// key, and that sends the person's name once, on the first sign-in, in
// the form field user.
package apple

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/url"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"

	"github.com/latchauth/latch/internal/connector"
	"github.com/latchauth/latch/internal/connector/oidc"
)

// Apple's endpoints.
const (
	Issuer   = "https://appleid.apple.com"
	AuthURL  = Issuer + "/auth/authorize"
	TokenURL = Issuer + "/auth/token"
	KeysURL  = Issuer + "/auth/keys"
)

// secretLifetime is how long a client secret is valid (Apple allows six
// months); one is made for each exchange.
const secretLifetime = 5 * time.Minute

// Scopes are the scopes asked for when the configuration names none.
func Scopes() []string { return []string{"name", "email"} }

// ParseKey reads the developer's private key: a PKCS#8 PEM of a P-256
// key, as Apple's console issues it (.p8).
func ParseKey(b []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("private key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("private key is not a PKCS#8 key")
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, errors.New("private key is not an EC P-256 key")
	}
	return ec, nil
}

// Check returns the problems with c's Apple-specific settings.
func Check(c connector.Config) []string {
	var p []string
	if c.TeamID == "" {
		p = append(p, "team_id is required for apple")
	}
	if c.KeyID == "" {
		p = append(p, "key_id is required for apple")
	}
	if len(c.PrivateKey) == 0 {
		p = append(p, "private_key is required for apple")
	} else if _, err := ParseKey(c.PrivateKey); err != nil {
		p = append(p, err.Error())
	}
	if c.Issuer != "" && c.Issuer != Issuer {
		p = append(p, "issuer must be empty for apple (it is always "+Issuer+")")
	}
	return p
}

// New returns the connector; see oidc.New. It is ready at once: Apple's
// endpoints are fixed, so nothing is discovered.
func New(ctx context.Context, c connector.Config, o connector.Options) (*oidc.Connector, error) {
	key, err := ParseKey(c.PrivateKey)
	if err != nil {
		return nil, err
	}
	c.Issuer = Issuer
	if len(c.Scopes) == 0 {
		c.Scopes = Scopes()
	}
	return oidc.New(ctx, c, o, oidc.Settings{
		Static: &gooidc.ProviderConfig{
			IssuerURL: Issuer, AuthURL: AuthURL, TokenURL: TokenURL, JWKSURL: KeysURL,
			Algorithms: []string{gooidc.RS256},
		},
		AuthParams: map[string]string{"response_mode": "form_post"},
		FormPost:   true,
		AuthStyle:  oauth2.AuthStyleInParams,
		ClientSecret: func(now time.Time) (string, error) {
			return ClientSecret(key, c.TeamID, c.KeyID, c.ClientID, now)
		},
		Identity:   identity,
		NoUserInfo: true,
	}), nil
}

// ClientSecret is the JWT Apple takes as the client secret.
func ClientSecret(key *ecdsa.PrivateKey, teamID, keyID, clientID string, now time.Time) (string, error) {
	sg, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithHeader(jose.HeaderKey("kid"), keyID))
	if err != nil {
		return "", err
	}
	return jwt.Signed(sg).Claims(jwt.Claims{
		Issuer:   teamID,
		Subject:  clientID,
		Audience: jwt.Audience{Issuer},
		IssuedAt: jwt.NewNumericDate(now),
		Expiry:   jwt.NewNumericDate(now.Add(secretLifetime)),
	}).Serialize()
}

// identity takes the name from the user field Apple posts on the first
// sign-in. Its email is not signed, so it is never used: the ID token's
// is.
func identity(_ []byte, answer url.Values, id *connector.Identity) error {
	raw := answer.Get("user")
	if raw == "" {
		return nil
	}
	var u struct {
		Name struct {
			FirstName string `json:"firstName"`
			LastName  string `json:"lastName"`
		} `json:"name"`
	}
	if json.Unmarshal([]byte(raw), &u) != nil {
		return nil // a name is not worth failing the sign-in for
	}
	if n := strings.TrimSpace(u.Name.FirstName + " " + u.Name.LastName); n != "" {
		id.Name = n
	}
	return nil
}
