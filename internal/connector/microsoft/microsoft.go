// Package microsoft is the connector for Microsoft Entra ID (work and
// school accounts) and personal Microsoft accounts, through the v2.0
// endpoint: an OpenID Provider run by connector/oidc, with the issuer
// checks a multi-tenant provider needs and without trusting its email.
//
// Single tenant: issuer https://login.microsoftonline.com/<tenant>/v2.0
// and every token's iss must be exactly the tenant's. Multi-tenant
// (common, organizations): the discovery document's issuer is the
// template https://login.microsoftonline.com/{tenantid}/v2.0, and a
// token's iss must be that template with the token's own tid put in.
// consumers is the one tenant of personal accounts.
//
// Microsoft's email claim is whatever address the account's owner
// typed; Microsoft does not verify it (the "nOAuth" attack), so
// EmailVerified is true only with the optional claim xms_edov ("email
// domain owner verified") set to true.
package microsoft

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/latchauth/latch/internal/connector"
	"github.com/latchauth/latch/internal/connector/oidc"
)

const (
	host = "https://login.microsoftonline.com/"
	// ConsumersTenant is the tenant id of personal Microsoft accounts.
	ConsumersTenant = "9188040d-6c67-4c5b-b112-36a304b66dad"
	template        = host + "{tenantid}/v2.0"
)

var (
	guid   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	domain = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$`)
)

// Tenant returns the tenant named by an issuer ("" means common), or
// the problem with the issuer.
func Tenant(issuer string) (string, error) {
	if issuer == "" {
		return "common", nil
	}
	t, ok := strings.CutPrefix(issuer, host)
	if ok {
		t, ok = strings.CutSuffix(t, "/v2.0")
	}
	switch {
	case !ok:
		return "", fmt.Errorf("issuer %q must be %s<tenant>/v2.0", issuer, host)
	case t == "common" || t == "organizations" || t == "consumers" || guid.MatchString(t) || domain.MatchString(t):
		return t, nil
	default:
		return "", fmt.Errorf("issuer %q: the tenant must be a GUID, a domain, common, organizations or consumers", issuer)
	}
}

// Check returns the problems with c's Microsoft-specific settings.
func Check(c connector.Config) []string {
	var p []string
	if _, err := Tenant(c.Issuer); err != nil {
		p = append(p, err.Error())
	}
	if s := oidc.CheckScopes(c.Scopes); s != "" {
		p = append(p, s)
	}
	return p
}

// New returns the connector; see oidc.New.
func New(ctx context.Context, c connector.Config, o connector.Options) (*oidc.Connector, error) {
	tenant, err := Tenant(c.Issuer)
	if err != nil {
		return nil, err
	}
	issuer := host + tenant + "/v2.0"
	c.Issuer = issuer
	return oidc.New(ctx, c, o, oidc.Settings{
		Issuer:       issuer,
		AcceptIssuer: func(d string) error { return acceptIssuer(tenant, issuer, d) },
		CheckIssuer:  func(iss, d string, claims []byte) error { return checkIssuer(tenant, iss, d, claims) },
		Identity:     identity,
		// Microsoft's userinfo is Graph's, with claims of its own; the
		// ID token is what is checked.
		NoUserInfo: true,
	}), nil
}

// acceptIssuer vets the discovery document's issuer for tenant.
func acceptIssuer(tenant, issuer, discovered string) error {
	var ok bool
	switch {
	case tenant == "common" || tenant == "organizations":
		ok = discovered == template
	case tenant == "consumers":
		ok = discovered == host+ConsumersTenant+"/v2.0"
	case guid.MatchString(tenant):
		ok = discovered == issuer
	default: // a domain: its document names the tenant's GUID
		t, _ := Tenant(discovered)
		ok = guid.MatchString(t)
	}
	if !ok {
		return fmt.Errorf("unexpected issuer %q for tenant %s", discovered, tenant)
	}
	return nil
}

// checkIssuer checks a token's iss and tid against the discovered issuer.
func checkIssuer(tenant, iss, discovered string, payload []byte) error {
	var c struct {
		TID string `json:"tid"`
	}
	if err := json.Unmarshal(payload, &c); err != nil || !guid.MatchString(c.TID) {
		return errors.New("tid is not a tenant id")
	}
	want := discovered
	if strings.Contains(discovered, "{tenantid}") {
		want = strings.Replace(discovered, "{tenantid}", c.TID, 1)
	} else if host+c.TID+"/v2.0" != discovered {
		return errors.New("tid is not the configured tenant")
	}
	if iss != want {
		return fmt.Errorf("iss %q is not %q", iss, want)
	}
	if tenant == "organizations" && c.TID == ConsumersTenant {
		return errors.New("a personal account, and only organizations are allowed")
	}
	return nil
}

// identity applies Microsoft's rules for the email. The Subject stays
// the ID token's sub: it is pairwise (per person and application) and
// never reassigned. Microsoft suggests oid+tid for an id stable across
// applications of one tenant; latch has one application per provider
// entry and wants an id no other application can correlate, so sub.
func identity(payload []byte, _ url.Values, id *connector.Identity) error {
	var c struct {
		EDOV oidc.Bool `json:"xms_edov"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return errors.New("xms_edov is neither true nor false")
	}
	id.EmailVerified = id.Email != "" && bool(c.EDOV)
	return nil
}
