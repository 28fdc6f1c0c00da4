// Package gitlab is the connector for GitLab accounts, on gitlab.com or
// on a self-hosted GitLab named by the issuer: an OpenID Provider run by
// connector/oidc.
package gitlab

import (
	"context"

	"github.com/latchauth/latch/internal/connector"
	"github.com/latchauth/latch/internal/connector/oidc"
)

// Issuer is gitlab.com's, used when the configuration names none.
const Issuer = "https://gitlab.com"

// New returns the connector; see oidc.New.
func New(ctx context.Context, c connector.Config, o connector.Options) (*oidc.Connector, error) {
	if c.Issuer == "" {
		c.Issuer = Issuer
	}
	return oidc.New(ctx, c, o, oidc.Settings{}), nil
}

// Check returns the problems with c's GitLab-specific settings.
func Check(c connector.Config) []string {
	var p []string
	if c.Issuer != "" {
		if s := oidc.CheckIssuerURL(c.Issuer); s != "" {
			p = append(p, s)
		}
	}
	if s := oidc.CheckScopes(c.Scopes); s != "" {
		p = append(p, s)
	}
	return p
}
