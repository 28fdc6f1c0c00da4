package auth

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/latchauth/latch/internal/apperr"
	"github.com/latchauth/latch/internal/mfa/passkey"
	"github.com/latchauth/latch/internal/store"
)

// Passkeys as the first factor: a sign-in without an email. The
// challenge is sealed into the challenge_id the client sends back (so
// asking for one stores nothing) and spent in the store when a sign-in
// uses it, so an assertion is accepted once.

const (
	passkeyChallengeTTL = 5 * time.Minute
	passkeyPrefix       = "lpc_"
)

// ErrInvalidPasskey: the passkey answer is wrong, its challenge unknown,
// expired or used, or its credential unknown or disabled. One answer for
// all.
var ErrInvalidPasskey = apperr.New(http.StatusBadRequest, apperr.CodeInvalidGrant, "the passkey could not be verified, or its challenge expired or was used; try again")

// PasskeyChallenge is a challenge for a passkey sign-in.
type PasskeyChallenge struct {
	ID      string          // challenge_id, to send back with the assertion
	Options json.RawMessage // WebAuthn Level 3 request options, no allowCredentials
}

// passkeyChallenge is what a challenge_id seals.
type passkeyChallenge struct {
	Challenge []byte `json:"c"`
	Expires   int64  `json:"x"`
}

// NewPasskeyChallenge returns request options for a discoverable
// credential and the id to finish with (PasskeySignIn).
func (s *Service) NewPasskeyChallenge(ctx context.Context) (PasskeyChallenge, error) {
	if s.passkeys == nil || s.factors == nil {
		return PasskeyChallenge{}, ErrPasskeysOff
	}
	pc := passkeyChallenge{Challenge: randomBytes(32), Expires: s.now().Add(passkeyChallengeTTL).Unix()}
	sealed, err := s.seal("passkey challenge", pc)
	if err != nil {
		return PasskeyChallenge{}, fmt.Errorf("passkey challenge: %w", err)
	}
	opts, err := s.passkeys.LoginOptions(pc.Challenge, nil, false)
	if err != nil {
		return PasskeyChallenge{}, fmt.Errorf("passkey challenge: %w", err)
	}
	s.audit.Count("passkey.challenge")
	return PasskeyChallenge{ID: passkeyPrefix + sealed, Options: opts}, nil
}

// openPasskeyChallenge reads a challenge_id; ErrInvalidPasskey if it is
// not latch's or has expired.
func (s *Service) openPasskeyChallenge(id string) (passkeyChallenge, error) {
	var pc passkeyChallenge
	rest, ok := strings.CutPrefix(id, passkeyPrefix)
	if !ok || !s.unseal("passkey challenge", rest, &pc) || len(pc.Challenge) == 0 || !s.now().Before(time.Unix(pc.Expires, 0)) {
		return passkeyChallenge{}, ErrInvalidPasskey
	}
	return pc, nil
}

// PasskeySignIn signs in with a discoverable credential's assertion
// against the challenge of challengeID. With user verification the
// passkey is two factors in one (aal2); without, it is one, and a user
// who has another factor is asked for it (mfa_required).
func (s *Service) PasskeySignIn(ctx context.Context, challengeID string, credential json.RawMessage, c Requester) (TokenResponse, error) {
	ctx = WithRequester(ctx, c)
	if err := required("challenge_id", challengeID); err != nil {
		return TokenResponse{}, err
	}
	if len(credential) == 0 {
		return TokenResponse{}, invalid("credential", "is required")
	}
	if s.passkeys == nil || s.factors == nil {
		return TokenResponse{}, ErrPasskeysOff
	}
	pc, err := s.openPasskeyChallenge(challengeID)
	if err != nil {
		return TokenResponse{}, err
	}
	var f store.Factor
	var u store.User
	res, err := s.passkeys.Login(pc.Challenge, nil, false, credential, func(rawID, handle []byte) (passkey.User, passkey.Credential, error) {
		var err error
		if f, err = s.factors.GetFactorByCredential(ctx, rawID); err != nil {
			return passkey.User{}, passkey.Credential{}, err
		}
		if f.Type != store.FactorWebAuthn || f.VerifiedAt.IsZero() {
			return passkey.User{}, passkey.Credential{}, store.ErrNotFound
		}
		if u, err = s.users.GetUser(ctx, f.UserID); err != nil {
			return passkey.User{}, passkey.Credential{}, err
		}
		pu := passkeyUser(u)
		if len(handle) > 0 && !equalBytes(handle, pu.ID) {
			return passkey.User{}, passkey.Credential{}, store.ErrNotFound
		}
		cred, err := decodeCredential(f.Secret)
		return pu, cred, err
	})
	if err != nil {
		if errors.Is(err, store.ErrUnavailable) {
			return TokenResponse{}, err
		}
		s.record(ctx, "login.failure", f.UserID, "", map[string]any{"method": "passkey"})
		return TokenResponse{}, ErrInvalidPasskey
	}
	// Spent only once verified: a forged answer cannot burn a challenge.
	exp := time.Unix(pc.Expires, 0)
	if err := s.identities.ClaimNonce(ctx, s.mac.MAC("passkey challenge", pc.Challenge), s.now().UTC(), exp); errors.Is(err, store.ErrAlreadyExists) {
		s.record(ctx, "login.failure", u.ID, "", map[string]any{"method": "passkey", "reason": "challenge replayed"})
		return TokenResponse{}, ErrInvalidPasskey
	} else if err != nil {
		return TokenResponse{}, fmt.Errorf("passkey sign-in: %w", err)
	}
	if _, err := s.recordAssertion(ctx, f, res); err != nil {
		if errors.Is(err, ErrInvalidMFA) {
			return TokenResponse{}, ErrInvalidPasskey
		}
		return TokenResponse{}, fmt.Errorf("passkey sign-in: %w", err)
	}
	if u.Disabled {
		s.record(ctx, "login.failure", u.ID, "", map[string]any{"method": "passkey", "reason": "disabled"})
		return TokenResponse{}, ErrInvalidPasskey
	}
	if s.opts.RequireVerification && !u.EmailVerified {
		return TokenResponse{}, ErrEmailNotVerified
	}
	now := s.now().UTC()
	if u, err = s.users.UpdateUser(ctx, u.ID, func(x *store.User) error { x.LastSignInAt = now; return nil }); err != nil {
		return TokenResponse{}, fmt.Errorf("passkey sign-in: %w", err)
	}
	in := signIn{user: u, via: c, amr: []string{factorAMR(f)}, aal: "aal1", authTime: now, factor: f.ID, stale: ErrInvalidPasskey}
	if res.UserVerified {
		in.aal = "aal2"
	}
	return s.openSession(ctx, in)
}

// randomBytes returns n bytes from crypto/rand.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails: crypto/rand.Read panics rather than return short
	return b
}
