package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/latchauth/latch/internal/connector"
	"github.com/latchauth/latch/internal/store"
)

// Social sign-in. A connector (internal/connector) says who the person
// is at a provider; this file decides what that means for latch's
// accounts, by DESIGN.md's linking rules, and ends in the funnel:
//
//   - a known identity signs in its user;
//   - a new identity whose provider is trusted for email (trust_email),
//     which says the address is verified, joins the account with that
//     address; if that account's own address was never verified, the
//     provider's proof wins and the account loses its password and
//     sessions first (pre-registration takeover);
//   - an untrusted provider, or an unverified provider address, never
//     joins an existing account: the person signs in to it first and
//     links the identity from there (ErrIdentityLinkRequired);
//   - anyone else is a new person: an account is made if sign-up is on
//     and the provider allows it, with the provider's verified address.

// Provider is a configured social provider as the domain uses it.
type Provider struct {
	ID          string // [a-z0-9_]+: in paths and the idp claim
	Name        string // for people: "Google", "Acme SSO"
	TrustEmail  bool
	AllowSignup bool
	Connector   connector.Connector
}

// Providers lists the configured providers, in configuration order.
func (s *Service) Providers() []Provider { return s.providers }

// Provider returns the configured provider with this id.
func (s *Service) Provider(id string) (Provider, bool) {
	for _, p := range s.providers {
		if p.ID == id {
			return p, true
		}
	}
	return Provider{}, false
}

// federatedSignIn signs in the person a provider identified.
func (s *Service) federatedSignIn(ctx context.Context, p Provider, id connector.Identity, via Requester) (TokenResponse, error) {
	u, err := s.federatedUser(ctx, p, id, true)
	if err != nil {
		return TokenResponse{}, err
	}
	if u.Disabled {
		s.record(ctx, "login.failure", u.ID, "", map[string]any{"method": "fed", "idp": p.ID, "reason": "disabled"})
		return TokenResponse{}, ErrAccountDisabled
	}
	now := s.now().UTC()
	checked := u
	if u, err = s.users.UpdateUser(ctx, u.ID, func(x *store.User) error {
		if x.CredentialEpoch != checked.CredentialEpoch || x.Disabled {
			return ErrFlowInvalid // the account changed since it was found
		}
		x.LastSignInAt = now
		return nil
	}); err != nil {
		return TokenResponse{}, err
	}
	return s.openSession(ctx, signIn{user: u, via: via, amr: []string{"fed"}, idp: p.ID, authTime: now, stale: ErrFlowInvalid})
}

// federatedUser finds, joins or makes the account of a provider's
// identity, by the rules at the top of this file. retry allows one more
// round when a concurrent sign-in of the same person won a race.
func (s *Service) federatedUser(ctx context.Context, p Provider, id connector.Identity, retry bool) (store.User, error) {
	now := s.now().UTC()
	known, err := s.identities.GetIdentity(ctx, p.ID, id.Subject)
	if err == nil {
		if _, err := s.identities.UpdateIdentity(ctx, known.ID, func(i *store.Identity) error {
			i.LastSignInAt, i.Email = now, truncate(id.Email, 320)
			return nil
		}); err != nil && !errors.Is(err, store.ErrNotFound) {
			return store.User{}, fmt.Errorf("federated sign-in: %w", err)
		}
		return s.users.GetUser(ctx, known.UserID)
	} else if !errors.Is(err, store.ErrNotFound) {
		return store.User{}, fmt.Errorf("federated sign-in: %w", err)
	}
	email, _ := ParseEmail(id.Email) // an address latch cannot use counts as none
	verified := email != "" && id.EmailVerified
	signupOff := s.opts.SignupOff || !p.AllowSignup
	if email != "" {
		existing, err := s.users.GetUserByEmail(ctx, email)
		switch {
		case err == nil && verified && p.TrustEmail:
			u, err := s.joinByEmail(ctx, p, id, existing, now)
			if errors.Is(err, errRace) && retry {
				return s.federatedUser(ctx, p, id, false)
			}
			return u, err
		case err == nil:
			// Never joined on this provider's word; with sign-up off the
			// answer is the one a new address gets, so that it tells
			// nothing about who has an account.
			s.record(ctx, "identity.link_required", existing.ID, "", map[string]any{"idp": p.ID, "email_verified": verified})
			if signupOff {
				return store.User{}, ErrSignupDisabled
			}
			return store.User{}, ErrIdentityLinkRequired
		case !errors.Is(err, store.ErrNotFound):
			return store.User{}, fmt.Errorf("federated sign-in: %w", err)
		}
	}
	if signupOff {
		s.record(ctx, "signup.refused", "", "", map[string]any{"idp": p.ID, "reason": "signup_disabled"})
		return store.User{}, ErrSignupDisabled
	}
	if !verified {
		s.record(ctx, "signup.refused", "", "", map[string]any{"idp": p.ID, "reason": "email_unverified"})
		return store.User{}, ErrProviderEmail
	}
	u := newUser(email, now)
	u.EmailVerified = true
	err = s.identities.CreateUserWithIdentity(ctx, u, s.newIdentity(u.ID, p, id, now))
	if errors.Is(err, store.ErrAlreadyExists) && retry {
		return s.federatedUser(ctx, p, id, false) // the same person, or the address, just arrived
	} else if err != nil {
		return store.User{}, fmt.Errorf("federated sign-up: %w", err)
	}
	s.record(ctx, "signup", u.ID, "", map[string]any{"method": "fed", "idp": p.ID})
	return u, nil
}

// errRace: the account changed between reading and joining it.
var errRace = errors.New("auth: account changed while joining an identity")

func (s *Service) newIdentity(userID string, p Provider, id connector.Identity, now time.Time) store.Identity {
	return store.Identity{ID: uuid.Must(uuid.NewV7()).String(), UserID: userID, Provider: p.ID, Subject: id.Subject,
		Email: truncate(id.Email, 320), CreatedAt: now, LastSignInAt: now}
}

// joinByEmail links a trusted provider's identity to the account with
// its verified address. An account whose own address was never verified
// loses its password and sessions first: whoever set that password never
// proved the address, and the provider just did.
func (s *Service) joinByEmail(ctx context.Context, p Provider, id connector.Identity, existing store.User, now time.Time) (store.User, error) {
	claimed, hadPassword := false, false
	u, err := s.identities.AttachIdentity(ctx, s.newIdentity(existing.ID, p, id, now), func(u *store.User) error {
		if u.Email != existing.Email {
			return errRace
		}
		if !u.EmailVerified {
			claimed, hadPassword = true, u.PasswordHash != ""
			u.PasswordHash, u.EmailVerified = "", true
			u.CredentialEpoch++
			u.UpdatedAt = now
		}
		return nil
	})
	switch {
	case errors.Is(err, store.ErrAlreadyExists):
		return store.User{}, errRace // the identity arrived meanwhile
	case err != nil:
		return store.User{}, err
	}
	if !claimed {
		s.record(ctx, "identity.link", u.ID, "", map[string]any{"idp": p.ID, "by": "email"})
		s.notifyIdentity(ctx, kindIdentityLinked, u, p)
		return u, nil
	}
	n, err := s.sessions.RevokeSessions(ctx, u.ID, "", now)
	if err != nil {
		return store.User{}, fmt.Errorf("claim account: %w", err)
	}
	s.record(ctx, "identity.claim", u.ID, "", map[string]any{"idp": p.ID, "password_removed": hadPassword, "sessions_revoked": n})
	s.notifyIdentity(ctx, kindAccountClaimed, u, p)
	return u, nil
}

// linkIdentity links a provider's identity to a signed-in user who
// asked for it.
func (s *Service) linkIdentity(ctx context.Context, userID string, p Provider, id connector.Identity) (store.User, error) {
	now := s.now().UTC()
	u, err := s.identities.AttachIdentity(ctx, s.newIdentity(userID, p, id, now), nil)
	if errors.Is(err, store.ErrAlreadyExists) {
		if known, gerr := s.identities.GetIdentity(ctx, p.ID, id.Subject); gerr == nil && known.UserID == userID {
			return s.users.GetUser(ctx, userID) // linked already: nothing to do
		}
		s.record(ctx, "identity.link.refused", userID, "", map[string]any{"idp": p.ID, "reason": "linked_to_another_user"})
		return store.User{}, ErrIdentityTaken
	} else if errors.Is(err, store.ErrNotFound) {
		return store.User{}, ErrInvalidToken
	} else if err != nil {
		return store.User{}, fmt.Errorf("link identity: %w", err)
	}
	s.record(ctx, "identity.link", u.ID, "", map[string]any{"idp": p.ID, "by": "user"})
	s.notifyIdentity(ctx, kindIdentityLinked, u, p)
	return u, nil
}

// Identities lists the user's linked identities, oldest first.
func (s *Service) Identities(ctx context.Context, userID string) ([]store.Identity, error) {
	return s.identities.ListIdentities(ctx, userID)
}

// UnlinkIdentity removes one of the caller's identities, unless it is
// their last way in (no password and no other identity).
func (s *Service) UnlinkIdentity(ctx context.Context, p Principal, identityID string) error {
	if err := s.needLevel(ctx, p); err != nil {
		return err
	}
	list, err := s.identities.ListIdentities(ctx, p.User.ID)
	if err != nil {
		return fmt.Errorf("unlink identity: %w", err)
	}
	var gone store.Identity
	for _, i := range list {
		if i.ID == identityID {
			gone = i
		}
	}
	if gone.ID == "" {
		return ErrIdentityNotFound
	}
	err = s.identities.DetachIdentity(ctx, p.User.ID, identityID, func(u store.User, remaining []store.Identity) error {
		if u.PasswordHash == "" && len(remaining) == 0 {
			return ErrLastSignInMethod
		}
		return nil
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ErrIdentityNotFound
	case errors.Is(err, ErrLastSignInMethod):
		s.record(ctx, "identity.unlink.refused", p.User.ID, p.Session.ID, map[string]any{"idp": gone.Provider, "reason": "last_sign_in_method"})
		return err
	case err != nil:
		return fmt.Errorf("unlink identity: %w", err)
	}
	prov, ok := s.Provider(gone.Provider)
	if !ok {
		prov = Provider{ID: gone.Provider, Name: gone.Provider}
	}
	s.record(ctx, "identity.unlink", p.User.ID, p.Session.ID, map[string]any{"idp": gone.Provider})
	s.notifyIdentity(ctx, kindIdentityUnlinked, p.User, prov)
	return nil
}

// SignInWithIDToken is the id_token grant: a native app that holds a
// provider's ID token (from the provider's own sign-in SDK) exchanges it
// for latch's tokens. The token's aud must be one of the provider's
// client ids, and its nonce the one given (raw or as its SHA-256); a
// nonce is good for one sign-in until the token expires.
func (s *Service) SignInWithIDToken(ctx context.Context, providerID, rawToken, nonce string, c Requester) (TokenResponse, error) {
	ctx = WithRequester(ctx, c)
	if err := required("provider", providerID, "id_token", rawToken, "nonce", nonce); err != nil {
		return TokenResponse{}, err
	}
	if len(rawToken) > 16<<10 || len(nonce) > 512 {
		return TokenResponse{}, ErrInvalidIDToken
	}
	p, ok := s.Provider(providerID)
	if !ok {
		return TokenResponse{}, ErrUnknownProvider
	}
	tv, ok := p.Connector.(connector.TokenVerifier)
	if !ok {
		return TokenResponse{}, invalid("provider", "does not issue ID tokens; use the browser flow (/v1/authorize?provider=…)")
	}
	id, exp, err := tv.VerifyIDToken(ctx, rawToken, nonce)
	if err != nil {
		s.record(ctx, "login.failure", "", "", map[string]any{"method": "fed", "idp": p.ID, "reason": "id_token"})
		return TokenResponse{}, providerErr(err, ErrInvalidIDToken)
	}
	// The nonce is spent as the token carries it: an app may give it raw
	// or already hashed, and either way the token is good once.
	if err := s.claimNonce(ctx, "id_token", p.ID, tokenNonce(rawToken), exp); err != nil {
		return TokenResponse{}, err
	}
	c.Browser = false
	return s.federatedSignIn(ctx, p, id, c)
}

// tokenNonce is the nonce claim of a JWT the connector has verified.
func tokenNonce(raw string) string {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		Nonce string `json:"nonce"`
	}
	if err != nil || json.Unmarshal(payload, &c) != nil {
		return ""
	}
	return c.Nonce
}

// claimNonce spends a nonce until expires; ErrInvalidIDToken (or
// ErrFlowInvalid for a browser flow) when it was spent already.
func (s *Service) claimNonce(ctx context.Context, kind, provider, nonce string, expires time.Time) error {
	h := sha256.Sum256([]byte(kind + "\x00" + provider + "\x00" + nonce))
	now := s.now().UTC()
	if !expires.After(now) {
		expires = now.Add(time.Minute)
	}
	err := s.identities.ClaimNonce(ctx, h[:], now, expires)
	switch {
	case errors.Is(err, store.ErrAlreadyExists):
		s.record(ctx, kind+".replay", "", "", map[string]any{"idp": provider})
		if kind == "id_token" {
			return ErrInvalidIDToken
		}
		return ErrFlowInvalid
	case err != nil:
		return fmt.Errorf("claim nonce: %w", err)
	}
	return nil
}

// providerErr maps a connector's error onto the domain's: unreachable,
// or an answer that failed a check (bad).
func providerErr(err, bad error) error {
	var pe *connector.ProviderError
	switch {
	case errors.As(err, &pe):
		return err
	case errors.Is(err, connector.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return ErrProviderUnavailable
	}
	return bad
}

// notifyIdentity tells the owner that an identity was linked to or
// removed from the account, or that a provider's proof of the address
// took an unverified account over.
func (s *Service) notifyIdentity(ctx context.Context, kind string, u store.User, p Provider) {
	d := mailData{IP: RequesterFrom(ctx).IP, Provider: p.Name}
	if err := s.enqueue(ctx, kind, u.Email, u.ID, d, noticeTTL); err != nil {
		s.log.WarnContext(ctx, "cannot queue an identity notice", "kind", kind, "user_id", u.ID, "err", err)
	}
}

// randomToken is 32 random bytes, base64url.
func randomToken() string {
	var b [32]byte
	rand.Read(b[:]) // never fails: crypto/rand.Read panics rather than return short
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func equalStrings(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
