package oidc

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/latchauth/latch/internal/connector"
	"github.com/latchauth/latch/internal/connector/internal/flow"
)

// Skew is how far in the future an ID token's iat may be: the
// provider's clock and latch's are not the same clock.
const Skew = 2 * time.Minute

// Retry bounds for discovery in the background.
const (
	firstRetry = time.Second
	lastRetry  = time.Minute
)

// Scopes are the scopes asked for when the configuration names none.
func Scopes() []string { return []string{"openid", "email", "profile"} }

// Settings say how a named provider differs from a generic OpenID
// Provider. The zero value is the generic one.
type Settings struct {
	// Issuer is where discovery is read from; "" means Config.Issuer.
	Issuer string
	// Static is the provider's metadata when it is known and not
	// discovered (Apple); the connector is then ready at once.
	Static *gooidc.ProviderConfig
	// AcceptIssuer vets the issuer of the discovery document when it
	// may differ from Issuer (Microsoft's "{tenantid}"); nil means it
	// must equal Issuer, as OpenID Connect Discovery requires.
	AcceptIssuer func(discovered string) error
	// CheckIssuer replaces the exact match of the token's iss with the
	// discovered issuer; claims is the token's payload.
	CheckIssuer func(iss, discovered string, claims []byte) error
	// AuthParams are added to the authorization URL.
	AuthParams map[string]string
	// FormPost: the provider answers with response_mode=form_post.
	FormPost bool
	// AuthStyle forces how the client authenticates at the token
	// endpoint; 0 lets the discovery document decide.
	AuthStyle oauth2.AuthStyle
	// ClientSecret makes the client secret for each exchange (Apple's
	// signed JWT); nil means Config.ClientSecret.
	ClientSecret func(now time.Time) (string, error)
	// Identity adjusts the identity read from a verified ID token;
	// answer is the callback's values, nil for VerifyIDToken.
	Identity func(claims []byte, answer url.Values, id *connector.Identity) error
	// NoUserInfo: never read the userinfo endpoint, even when the ID
	// token has no email (its claims would not be the ones checked).
	NoUserInfo bool
}

// Connector is one OpenID Provider.
type Connector struct {
	cfg    connector.Config
	set    Settings
	client *http.Client
	log    *slog.Logger
	now    func() time.Time

	mu sync.Mutex
	st *state // nil until discovery succeeded
}

var (
	_ connector.Connector     = (*Connector)(nil)
	_ connector.TokenVerifier = (*Connector)(nil)
)

// state is what discovery gave.
type state struct {
	oauth    oauth2.Config
	verifier *gooidc.IDTokenVerifier
	issuer   string // the discovery document's
	userinfo string
}

// New returns the connector for c. Unless s.Static is set, it reads the
// discovery document in the background until it succeeds or ctx ends,
// logging each failure; AuthURL and Callback try once more themselves
// while it has not. New never fails because the provider is down.
func New(ctx context.Context, c connector.Config, o connector.Options, s Settings) *Connector {
	k := &Connector{cfg: c, set: s, client: flow.Client(o.Client, nil), log: o.Logger, now: o.Now}
	if k.log == nil {
		k.log = slog.New(slog.DiscardHandler)
	}
	if k.now == nil {
		k.now = time.Now
	}
	if k.set.Issuer == "" {
		k.set.Issuer = c.Issuer
	}
	if len(k.cfg.Scopes) == 0 {
		k.cfg.Scopes = Scopes()
	}
	if s.Static != nil {
		k.st = k.newState(metadata{
			Issuer: s.Static.IssuerURL, Auth: s.Static.AuthURL, Token: s.Static.TokenURL,
			JWKS: s.Static.JWKSURL, UserInfo: s.Static.UserInfoURL, Algs: s.Static.Algorithms,
		})
		return k
	}
	go k.discoverLoop(ctx)
	return k
}

// Ready reports whether the provider's endpoints are known.
func (k *Connector) Ready() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.st != nil
}

// FormPost reports whether the provider answers with a POST.
func (k *Connector) FormPost() bool { return k.set.FormPost }

func (k *Connector) discoverLoop(ctx context.Context) {
	wait := firstRetry
	for !k.Ready() {
		err := k.discover(ctx)
		if err == nil || ctx.Err() != nil {
			return
		}
		k.log.Warn("connector: discovery failed; retrying", "provider", k.cfg.ID, "issuer", k.set.Issuer, "err", err, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(wait*2, lastRetry)
	}
}

// state returns what discovery gave, trying once more within ctx if it
// has not succeeded yet.
func (k *Connector) state(ctx context.Context) (*state, error) {
	k.mu.Lock()
	st := k.st
	k.mu.Unlock()
	if st != nil {
		return st, nil
	}
	if err := k.discover(ctx); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.st, nil
}

// metadata is the part of a discovery document latch uses.
type metadata struct {
	Issuer      string   `json:"issuer"`
	Auth        string   `json:"authorization_endpoint"`
	Token       string   `json:"token_endpoint"`
	JWKS        string   `json:"jwks_uri"`
	UserInfo    string   `json:"userinfo_endpoint"`
	Algs        []string `json:"id_token_signing_alg_values_supported"`
	AuthMethods []string `json:"token_endpoint_auth_methods_supported"`
}

// discover reads the discovery document once. Its errors are all
// ErrUnavailable: until it succeeds the provider cannot be used.
func (k *Connector) discover(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	dctx := flow.Context(ctx, k.client)
	if k.set.AcceptIssuer != nil {
		// go-oidc then skips its exact match; AcceptIssuer checks below.
		dctx = gooidc.InsecureIssuerURLContext(dctx, k.set.Issuer)
	}
	p, err := gooidc.NewProvider(dctx, k.set.Issuer)
	if err != nil {
		var mismatch *gooidc.IssuerMismatchError
		switch {
		case errors.As(err, &mismatch):
			return fmt.Errorf("%w: discovery: the document's issuer %q is not %q", connector.ErrUnavailable, mismatch.Discovered, mismatch.Provided)
		case flow.IsUnavailable(err):
			return flow.Unavailable("discovery", err)
		default:
			// go-oidc's text may hold the provider's body: not repeated.
			return fmt.Errorf("%w: discovery: no valid document at %s", connector.ErrUnavailable, k.set.Issuer)
		}
	}
	var m metadata
	if err := p.Claims(&m); err != nil {
		return fmt.Errorf("%w: discovery: the document is not JSON", connector.ErrUnavailable)
	}
	if k.set.AcceptIssuer != nil {
		if err := k.set.AcceptIssuer(m.Issuer); err != nil {
			return fmt.Errorf("%w: discovery: %v", connector.ErrUnavailable, err)
		}
	}
	if m.Auth == "" || m.Token == "" || m.JWKS == "" {
		return fmt.Errorf("%w: discovery: the document lacks an endpoint", connector.ErrUnavailable)
	}
	st := k.newState(m)
	k.mu.Lock()
	if k.st == nil {
		k.st = st
	}
	k.mu.Unlock()
	return nil
}

// asymmetric are the only algorithms an ID token may be signed with:
// never none, never an HMAC (whose key would be the client secret or,
// in the classic confusion attack, the provider's public key).
var asymmetric = []string{
	gooidc.RS256, gooidc.RS384, gooidc.RS512, gooidc.ES256, gooidc.ES384, gooidc.ES512,
	gooidc.PS256, gooidc.PS384, gooidc.PS512, gooidc.EdDSA,
}

func (k *Connector) newState(m metadata) *state {
	var algs []string
	for _, a := range m.Algs {
		if slices.Contains(asymmetric, a) {
			algs = append(algs, a)
		}
	}
	if len(algs) == 0 {
		algs = []string{gooidc.RS256} // OpenID Connect Discovery's default
	}
	style := k.set.AuthStyle
	if style == oauth2.AuthStyleAutoDetect {
		// Basic is the default of OpenID Connect; AutoDetect would try
		// both and spend a code on the first.
		style = oauth2.AuthStyleInHeader
		if len(m.AuthMethods) > 0 && !slices.Contains(m.AuthMethods, "client_secret_basic") && slices.Contains(m.AuthMethods, "client_secret_post") {
			style = oauth2.AuthStyleInParams
		}
	}
	keys := keySet{remote: gooidc.NewRemoteKeySet(flow.Context(context.Background(), k.client), m.JWKS)}
	v := gooidc.NewVerifier(m.Issuer, keys, &gooidc.Config{
		SkipClientIDCheck:    true, // aud is checked below, against several ids
		SkipIssuerCheck:      k.set.CheckIssuer != nil,
		SupportedSigningAlgs: algs,
		Now:                  k.now,
	})
	return &state{
		oauth: oauth2.Config{
			ClientID:     k.cfg.ClientID,
			ClientSecret: k.cfg.ClientSecret,
			RedirectURL:  k.cfg.RedirectURL,
			Scopes:       k.cfg.Scopes,
			Endpoint:     oauth2.Endpoint{AuthURL: m.Auth, TokenURL: m.Token, AuthStyle: style},
		},
		verifier: v,
		issuer:   m.Issuer,
		userinfo: m.UserInfo,
	}
}

// AuthURL is the provider's authorization URL for r.
func (k *Connector) AuthURL(ctx context.Context, r connector.Request) (string, error) {
	if r.State == "" || r.Nonce == "" || r.Verifier == "" {
		return "", errors.New("connector: a request needs a state, a nonce and a verifier")
	}
	st, err := k.state(ctx)
	if err != nil {
		return "", err
	}
	opts := []oauth2.AuthCodeOption{gooidc.Nonce(r.Nonce), oauth2.S256ChallengeOption(r.Verifier)}
	for key, v := range k.set.AuthParams {
		opts = append(opts, oauth2.SetAuthURLParam(key, v))
	}
	return st.oauth.AuthCodeURL(r.State, opts...), nil
}

// Callback redeems the code in answer and checks the ID token.
func (k *Connector) Callback(ctx context.Context, r connector.Request, answer map[string][]string) (connector.Identity, error) {
	code, err := flow.Code(answer)
	if err != nil {
		return connector.Identity{}, err
	}
	if r.Nonce == "" || r.Verifier == "" {
		return connector.Identity{}, errors.New("connector: a request needs a nonce and a verifier")
	}
	st, err := k.state(ctx)
	if err != nil {
		return connector.Identity{}, err
	}
	cfg := st.oauth
	if k.set.ClientSecret != nil {
		if cfg.ClientSecret, err = k.set.ClientSecret(k.now()); err != nil {
			return connector.Identity{}, fmt.Errorf("connector %s: client secret: %w", k.cfg.ID, err)
		}
	}
	tok, err := flow.Exchange(ctx, k.client, &cfg, code, r.Verifier)
	if err != nil {
		return connector.Identity{}, err
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return connector.Identity{}, flow.Invalid("the token answer has no id_token")
	}
	nonceOK := func(n string) bool { return equal(n, r.Nonce) }
	id, cl, _, err := k.verify(ctx, st, raw, []string{k.cfg.ClientID}, nonceOK, url.Values(answer))
	if err != nil {
		return connector.Identity{}, err
	}
	if !cl.hasEmail && !k.set.NoUserInfo && st.userinfo != "" && tok.AccessToken != "" {
		if err := k.userInfo(ctx, st, tok.AccessToken, &id); err != nil {
			return connector.Identity{}, err
		}
	}
	return id, nil
}

// userInfo completes id from the userinfo endpoint, for providers that
// put the email and profile claims there and not in the ID token. Its
// sub must be the ID token's (OpenID Connect Core §5.3.2).
func (k *Connector) userInfo(ctx context.Context, st *state, access string, id *connector.Identity) error {
	var c claims
	if err := flow.GetJSON(ctx, k.client, st.userinfo, access, nil, &c); err != nil {
		return err
	}
	if c.Subject != id.Subject {
		return flow.Invalid("userinfo is about another subject")
	}
	id.Email, id.EmailVerified = c.Email, bool(c.EmailVerified)
	if id.Name == "" {
		id.Name = c.Name
	}
	if id.Username == "" {
		id.Username = c.PreferredUsername
	}
	return nil
}

// VerifyIDToken checks an ID token a native app obtained: aud may be
// ClientID or any of ClientIDs, and its nonce must be nonce or the
// lower-case hex of nonce's SHA-256 (as Apple's and Google's SDKs send it).
func (k *Connector) VerifyIDToken(ctx context.Context, raw, nonce string) (connector.Identity, time.Time, error) {
	if nonce == "" {
		return connector.Identity{}, time.Time{}, flow.Invalid("a nonce is required")
	}
	st, err := k.state(ctx)
	if err != nil {
		return connector.Identity{}, time.Time{}, err
	}
	sum := sha256.Sum256([]byte(nonce))
	hashed := hex.EncodeToString(sum[:])
	nonceOK := func(n string) bool { return equal(n, nonce) || equal(n, hashed) }
	aud := append([]string{k.cfg.ClientID}, k.cfg.ClientIDs...)
	id, _, exp, err := k.verify(ctx, st, raw, aud, nonceOK, nil)
	return id, exp, err
}

func equal(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// verify checks raw and reads the identity from it. audiences are the
// client ids the token may be for.
func (k *Connector) verify(ctx context.Context, st *state, raw string, audiences []string, nonceOK func(string) bool, answer url.Values) (connector.Identity, claims, time.Time, error) {
	var c claims
	fail := func(err error) (connector.Identity, claims, time.Time, error) {
		return connector.Identity{}, c, time.Time{}, err
	}
	slot := &fetchSlot{}
	tok, err := st.verifier.Verify(context.WithValue(ctx, slotKey{}, slot), raw)
	if err != nil {
		var expired *gooidc.TokenExpiredError
		switch {
		case slot.err != nil:
			return fail(flow.Unavailable("provider keys", slot.err))
		case errors.As(err, &expired):
			return fail(flow.Invalid("the ID token has expired"))
		default:
			// go-oidc's text is not repeated: it may quote the provider.
			return fail(flow.Invalid("the ID token did not verify (signature, algorithm, issuer or expiry)"))
		}
	}
	var payload rawClaims
	if err := tok.Claims(&payload); err != nil {
		return fail(flow.Invalid("the ID token's claims are not JSON"))
	}
	if err := tok.Claims(&c); err != nil {
		return fail(flow.Invalid("the ID token's claims are malformed"))
	}
	if k.set.CheckIssuer != nil {
		if err := k.set.CheckIssuer(tok.Issuer, st.issuer, payload); err != nil {
			return fail(flow.Invalid("the ID token's issuer: %v", err))
		}
	}
	if !slices.ContainsFunc(tok.Audience, func(a string) bool { return slices.Contains(audiences, a) }) {
		return fail(flow.Invalid("the ID token is for another client"))
	}
	// OpenID Connect Core §3.1.3.7: with several audiences the token
	// must say which of them it was issued to, and that must be us.
	if len(tok.Audience) > 1 && !slices.Contains(audiences, c.AZP) {
		return fail(flow.Invalid("the ID token's azp is not this client"))
	}
	if tok.IssuedAt.IsZero() {
		return fail(flow.Invalid("the ID token has no iat"))
	}
	if tok.IssuedAt.After(k.now().Add(Skew)) {
		return fail(flow.Invalid("the ID token was issued in the future"))
	}
	if !nonceOK(tok.Nonce) {
		return fail(flow.Invalid("the ID token's nonce is not this request's"))
	}
	if tok.Subject == "" {
		return fail(flow.Invalid("the ID token has no sub"))
	}
	id := connector.Identity{
		Subject:       tok.Subject,
		Email:         c.Email,
		EmailVerified: c.Email != "" && bool(c.EmailVerified),
		Name:          c.Name,
		Username:      c.PreferredUsername,
	}
	if k.set.Identity != nil {
		if err := k.set.Identity(payload, answer, &id); err != nil {
			return fail(flow.Invalid("%v", err))
		}
	}
	return id, c, tok.Expiry, nil
}

// CheckIssuerURL returns the problem with an issuer URL, or "": it must
// be an absolute https URL (http only on a loopback host, for tests and
// development) without query or fragment.
func CheckIssuerURL(issuer string) string {
	u, err := url.Parse(issuer)
	switch {
	case issuer == "":
		return "issuer is required"
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return fmt.Sprintf("issuer %q is not an absolute http(s) URL", issuer)
	case u.Scheme == "http" && !loopback(u.Hostname()):
		return fmt.Sprintf("issuer %q must use https (http is allowed only on a loopback host)", issuer)
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Sprintf("issuer %q must not have a query or fragment", issuer)
	}
	return ""
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckScopes returns the problem with scopes for an OpenID Provider, or "".
func CheckScopes(scopes []string) string {
	if len(scopes) > 0 && !slices.Contains(scopes, "openid") {
		return "scopes must include openid"
	}
	return ""
}

// Check returns the problems with the settings of a generic OpenID
// Provider (type oidc) beyond those every type shares.
func Check(c connector.Config) []string {
	var p []string
	if s := CheckIssuerURL(c.Issuer); s != "" {
		p = append(p, s)
	}
	if s := CheckScopes(c.Scopes); s != "" {
		p = append(p, s)
	}
	return p
}
