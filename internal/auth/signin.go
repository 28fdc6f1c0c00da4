package auth

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/latchauth/latch/internal/apperr"
	"github.com/latchauth/latch/internal/password"
	"github.com/latchauth/latch/internal/ratelimit"
	"github.com/latchauth/latch/internal/store"
)

// PasswordLogin signs a user in with email and password. Unknown email,
// wrong password and disabled account give the same error after the same
// work, and every attempt is reserved with the throttler first. A valid
// device token of the account's (device.go) replaces the account-wide
// counter with the device's own.
func (s *Service) PasswordLogin(ctx context.Context, email, pw, deviceToken string, c Requester) (TokenResponse, error) {
	ctx = WithRequester(ctx, c)
	if err := required("email", email, "password", pw); err != nil {
		return TokenResponse{}, err
	}
	email = attemptEmail(email)
	at := ratelimit.Attempt{Email: email, IP: c.IP}
	if deviceToken != "" {
		// Only a token bound to this address's account counts, so the
		// account is looked up first; a token is never a reason to
		// answer differently, only to meet another counter.
		if u, err := s.users.GetUserByEmail(ctx, email); err == nil {
			at.Device = s.deviceOf(deviceToken, u.ID)
		} else if !errors.Is(err, store.ErrNotFound) {
			return TokenResponse{}, fmt.Errorf("login: %w", err)
		}
	}
	var u store.User
	var rehash bool
	err := s.attempt(ctx, at, "pwd", func() error {
		var ok bool
		var err error
		if u, ok, rehash, err = s.checkPassword(ctx, email, pw); err != nil || ok {
			return err
		}
		s.record(ctx, "login.failure", "", "", s.auditEmail(email))
		return ErrInvalidCredentials
	})
	if err != nil {
		return TokenResponse{}, fmt.Errorf("login: %w", err)
	}
	if s.opts.RequireVerification && !u.EmailVerified {
		return TokenResponse{}, ErrEmailNotVerified
	}
	return s.startSession(ctx, u, pw, rehash, c, at.Device)
}

// attemptEmail is the address a guess is counted under: normalised, and
// cut to the longest an address can be, since a longer one cannot be an
// account and would only make the throttle's keys longer.
func attemptEmail(email string) string {
	email = NormalizeEmail(email)
	if len(email) > maxEmailLen {
		email = email[:maxEmailLen]
	}
	return email
}

// auditEmail is how a failed sign-in names the account in the audit
// trail: the normalised address when it is one, else a keyed hash, so
// that a password typed into the email field never reaches the trail
// while repeated attempts with the same text can still be grouped.
func (s *Service) auditEmail(email string) map[string]any {
	if e, err := ParseEmail(email); err == nil {
		return map[string]any{"email": e}
	}
	return map[string]any{"email_hash": hex.EncodeToString(s.mac.MAC("audit email", []byte(email))[:12])}
}

// attempt runs check, the check of a guessable secret, as one throttled
// attempt: reserved with the throttler before it (a 429 if the attempt
// must wait, and check does not run), given back when check returns nil.
// Every credential a person can guess goes through it.
func (s *Service) attempt(ctx context.Context, at ratelimit.Attempt, method string, check func() error) error {
	if err := s.reserve(ctx, at, method); err != nil {
		return err
	}
	if err := check(); err != nil {
		return err
	}
	return s.succeed(ctx, at)
}

// reserve reserves one attempt of a credential with the throttler; a
// 429 (audited) if the attempt must wait. method is the
// credential tried: "pwd" or "otp".
func (s *Service) reserve(ctx context.Context, at ratelimit.Attempt, method string) error {
	if s.throttler == nil {
		return nil
	}
	wait, err := s.throttler.Reserve(ctx, at)
	if err != nil {
		return err
	}
	if wait > 0 {
		detail := s.auditEmail(at.Email)
		detail["method"], detail["retry_after_s"] = method, int64(wait.Round(time.Second)/time.Second)
		s.record(ctx, "login.throttled", "", "", detail)
		return apperr.Throttled(wait)
	}
	return nil
}

// succeed gives back the reservation of an attempt whose credential was
// right.
func (s *Service) succeed(ctx context.Context, at ratelimit.Attempt) error {
	if s.throttler == nil {
		return nil
	}
	return s.throttler.Succeed(ctx, at)
}

// checkPassword finds the user and checks the password, running a dummy
// hash for an unknown email so both cases cost the same. A disabled user
// is a failure, decided only after the hash.
func (s *Service) checkPassword(ctx context.Context, email, pw string) (u store.User, ok, rehash bool, err error) {
	if s.opts.Policy.TooLong(pw) {
		// Refused before any hashing: no valid password is this long.
		return store.User{}, false, false, nil
	}
	pw = password.Normalize(pw)
	u, err = s.users.GetUserByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.PasswordHash == "") {
		return store.User{}, false, false, s.hasher.VerifyDummy(ctx, pw)
	}
	if err != nil {
		return store.User{}, false, false, err
	}
	ok, rehash, err = s.hasher.Verify(ctx, pw, u.PasswordHash)
	if err != nil {
		return store.User{}, false, false, err
	}
	if !ok || u.Disabled {
		return store.User{}, false, false, nil
	}
	return u, true, rehash, nil
}

// startSession records a password sign-in, upgrades an outdated password
// hash and opens a session. The session is made under the credential
// epoch of the user as read for the password check: if a password change
// or reset overtook the check, the store refuses the session and the
// sign-in fails as a wrong password would.
func (s *Service) startSession(ctx context.Context, u store.User, pw string, rehash bool, c Requester, device string) (TokenResponse, error) {
	var newHash string
	var err error
	if rehash {
		if newHash, err = s.hasher.Hash(ctx, password.Normalize(pw)); err != nil {
			return TokenResponse{}, fmt.Errorf("login: rehash: %w", err)
		}
	}
	now := s.now().UTC()
	checked := u
	u, err = s.users.UpdateUser(ctx, u.ID, func(x *store.User) error {
		if x.CredentialEpoch != checked.CredentialEpoch {
			return ErrInvalidCredentials
		}
		x.LastSignInAt = now
		// Upgrade only if nobody changed the password meanwhile.
		if newHash != "" && x.PasswordHash == checked.PasswordHash {
			x.PasswordHash = newHash
		}
		return nil
	})
	if err != nil {
		return TokenResponse{}, fmt.Errorf("login: %w", err)
	}
	if newHash != "" {
		s.record(ctx, "password.rehash", u.ID, "", nil)
	}
	return s.openSession(ctx, signIn{user: u, via: c, amr: []string{"pwd"}, authTime: now, device: device, stale: ErrInvalidCredentials})
}
