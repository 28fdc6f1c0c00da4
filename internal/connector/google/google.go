// Package google is the connector for Google accounts: an OpenID
// Provider at https://accounts.google.com, run by connector/oidc. Its
// ID tokens may say iss "accounts.google.com" without the scheme, which
// go-oidc accepts for this issuer only; a Workspace account's token
// carries hd, which latch does not use (yet) and which does not stop
// the token from verifying.
package google

import (
	"context"

	"github.com/latchauth/latch/internal/connector"
	"github.com/latchauth/latch/internal/connector/oidc"
)

// Issuer is Google's.
const Issuer = "https://accounts.google.com"

// New returns the connector; see oidc.New.
func New(ctx context.Context, c connector.Config, o connector.Options) (*oidc.Connector, error) {
	c.Issuer = Issuer
	return oidc.New(ctx, c, o, oidc.Settings{}), nil
}

// Check returns the problems with c's Google-specific settings.
func Check(c connector.Config) []string {
	var p []string
	if c.Issuer != "" && c.Issuer != Issuer {
		p = append(p, "issuer must be empty for google (it is always "+Issuer+")")
	}
	if s := oidc.CheckScopes(c.Scopes); s != "" {
		p = append(p, s)
	}
	return p
}
