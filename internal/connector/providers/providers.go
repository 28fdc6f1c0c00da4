// Package providers opens the connector of a configured provider by its
// type, and knows each type's checks and defaults. Adding a type is one
// new package and one line in types.
package providers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/latchauth/latch/internal/connector"
	"github.com/latchauth/latch/internal/connector/apple"
	"github.com/latchauth/latch/internal/connector/github"
	"github.com/latchauth/latch/internal/connector/gitlab"
	"github.com/latchauth/latch/internal/connector/google"
	"github.com/latchauth/latch/internal/connector/microsoft"
	"github.com/latchauth/latch/internal/connector/oidc"
)

// kind is what latch knows of one provider type.
type kind struct {
	open  func(context.Context, connector.Config, connector.Options) (connector.Connector, error)
	check func(connector.Config) []string
	// trustEmail: its verified emails may link to existing accounts by
	// default. Only providers that verify every address they assert.
	trustEmail bool
	scopes     func() []string
	secretless bool // no client_secret: apple signs its own
}

func types() map[string]kind {
	return map[string]kind{
		"oidc":      {open: open(oidcNew), check: oidc.Check, scopes: oidc.Scopes},
		"google":    {open: open(google.New), check: google.Check, trustEmail: true, scopes: oidc.Scopes},
		"microsoft": {open: open(microsoft.New), check: microsoft.Check, scopes: oidc.Scopes},
		"gitlab":    {open: open(gitlab.New), check: gitlab.Check, scopes: oidc.Scopes},
		"apple":     {open: open(apple.New), check: apple.Check, trustEmail: true, scopes: apple.Scopes, secretless: true},
		"github":    {open: open(github.New), check: github.Check, scopes: github.Scopes},
	}
}

func oidcNew(ctx context.Context, c connector.Config, o connector.Options) (*oidc.Connector, error) {
	return oidc.New(ctx, c, o, oidc.Settings{}), nil
}

func open[T connector.Connector](f func(context.Context, connector.Config, connector.Options) (T, error)) func(context.Context, connector.Config, connector.Options) (connector.Connector, error) {
	return func(ctx context.Context, c connector.Config, o connector.Options) (connector.Connector, error) {
		return f(ctx, c, o)
	}
}

// Types are the provider types latch knows, sorted.
func Types() []string {
	var t []string
	for name := range types() {
		t = append(t, name)
	}
	slices.Sort(t)
	return t
}

// Defaults are a type's trust_email and scopes when the configuration
// does not say; false and nil for an unknown type.
func Defaults(typ string) (trustEmail bool, scopes []string) {
	k, ok := types()[typ]
	if !ok {
		return false, nil
	}
	return k.trustEmail, k.scopes()
}

// Check returns every problem with one provider's settings, each a
// sentence that names the field; nil if there is none.
func Check(c connector.Config) []string {
	k, ok := types()[c.Type]
	if !ok {
		return []string{fmt.Sprintf("type %q is unknown (known: %s)", c.Type, strings.Join(Types(), ", "))}
	}
	var p []string
	if c.ClientID == "" {
		p = append(p, "client_id is required")
	}
	if c.ClientSecret == "" && !k.secretless {
		p = append(p, "client_secret is required")
	}
	for _, id := range c.ClientIDs {
		if id == "" {
			p = append(p, "client_ids has an empty id")
			break
		}
	}
	return append(p, k.check(c)...)
}

// Open returns the connector of c. It fails only when c's settings are
// wrong (see Check), never because the provider cannot be reached:
// OpenID Providers are discovered in the background until ctx ends.
func Open(ctx context.Context, c connector.Config, o connector.Options) (connector.Connector, error) {
	if p := Check(c); len(p) > 0 {
		return nil, fmt.Errorf("provider %s: %w", c.ID, errors.New(strings.Join(p, "; ")))
	}
	return types()[c.Type].open(ctx, c, o)
}
