// Package connector is how latch signs people in with a social provider:
// one small interface, Connector, that each provider type implements in
// a package of its own (connector/oidc, connector/github, …), and the
// values that cross it. A connector speaks to its provider and says who
// the person is; it decides nothing about accounts. Linking, sign-up and
// sessions are auth's (internal/auth/federated.go).
//
// The provider's own tokens are never kept: a connector uses them to
// learn the identity and drops them.
package connector

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"
)

// Config is one entry of the providers list, as the configuration holds
// it once loaded: secrets read, defaults applied.
type Config struct {
	ID   string // [a-z0-9_]+; in paths (/v1/callback/<id>) and the idp claim
	Type string // oidc | google | microsoft | apple | github | gitlab
	// ClientID is the web client latch redirects with; ClientIDs adds the
	// ids of native apps whose ID tokens the id_token grant accepts.
	ClientID     string
	ClientIDs    []string
	ClientSecret string
	// Apple makes its client secret from these: a team id, a key id and
	// the PEM of the ES256 private key the developer console issued.
	TeamID     string
	KeyID      string
	PrivateKey []byte
	// Issuer is the OpenID Provider's issuer URL (oidc, gitlab on its
	// own server) or the Microsoft tenant's.
	Issuer string
	Scopes []string
	// TrustEmail: may the provider's verified email link a new identity
	// to an existing account with that (verified) address?
	TrustEmail bool
	// AllowSignup: may a person new to latch sign up with it?
	AllowSignup bool
	// RedirectURL is latch's callback for this provider:
	// <public URL>/v1/callback/<id>, what the provider's console registers.
	RedirectURL string
}

// Identity is what a provider says about the person who signed in.
type Identity struct {
	// Subject is the provider's stable id of the person: the ID token's
	// sub, or GitHub's numeric user id. Never an email address.
	Subject string
	// Email is as the provider gives it (not normalised), or "".
	Email string
	// EmailVerified is true only when the provider asserts that the
	// person controls Email (an email_verified claim, GitHub's primary
	// and verified address).
	EmailVerified bool
	Name          string // display name, or ""
	Username      string // preferred_username or login, or ""
}

// Request is what latch binds one sign-in at a provider to: the values
// it sends and later checks. The connector sends State as the state
// parameter, Nonce as the nonce (OpenID Connect) and the S256 challenge
// of Verifier (PKCE), and redeems the code with Verifier.
type Request struct {
	State    string
	Nonce    string
	Verifier string
}

// Connector is one configured provider.
type Connector interface {
	// AuthURL is where to send the browser to sign in at the provider.
	// ErrUnavailable if the provider's endpoints are not known yet
	// (its discovery document could not be fetched).
	AuthURL(ctx context.Context, r Request) (string, error)
	// FormPost reports whether the provider comes back to the callback
	// with an HTTP POST (response_mode=form_post, as Apple does).
	FormPost() bool
	// Callback redeems the provider's answer, the callback's query or
	// form values (latch has already matched their state to r.State),
	// and identifies the person: the code exchanged with r.Verifier, the
	// ID token checked (signature by the provider's keys, iss, aud, azp,
	// exp, iat, nonce = r.Nonce) or the provider's user API read. A
	// provider's error answer (error=access_denied) is a *ProviderError.
	Callback(ctx context.Context, r Request, answer map[string][]string) (Identity, error)
}

// TokenVerifier is implemented by the types whose ID tokens a native
// app may present (the id_token grant).
type TokenVerifier interface {
	// VerifyIDToken checks raw as Callback checks an ID token, except
	// that aud may be ClientID or any of ClientIDs and the token's nonce
	// must equal nonce or the lower-case hex of its SHA-256. It returns
	// the identity and when the token expires.
	VerifyIDToken(ctx context.Context, raw, nonce string) (Identity, time.Time, error)
}

// Options are what every connector is built with.
type Options struct {
	// Client makes every request to the provider; it must have a timeout.
	// Tests give one whose transport leads to a loopback server.
	Client *http.Client
	Logger *slog.Logger
	Now    func() time.Time
}

// Errors a connector answers with. Their text never holds a token, a
// secret or a provider's response body.
var (
	// ErrUnavailable: the provider could not be reached, answered with a
	// server error, or too slowly. The person may try again later.
	ErrUnavailable = errors.New("connector: provider unavailable")
	// ErrInvalid: the provider's answer did not pass a check (a bad or
	// expired ID token, a wrong nonce or audience, a missing code).
	ErrInvalid = errors.New("connector: invalid answer from provider")
)

// ProviderError is an error the provider answered with on the callback
// (RFC 6749 §4.1.2.1), such as access_denied when the person cancelled.
type ProviderError struct {
	Code        string // the error parameter, e.g. "access_denied"
	Description string // error_description, or ""
}

func (e *ProviderError) Error() string { return "connector: provider answered " + e.Code }
