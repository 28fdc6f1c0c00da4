package auth

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/latchauth/latch/internal/password"
	"github.com/latchauth/latch/internal/ratelimit"
	"github.com/latchauth/latch/internal/store"
)

// SignupInput is a registration request.
type SignupInput struct {
	Email    string
	Password string
	Metadata json.RawMessage
	Client   Client
}

// SignupResult is either a signed-in session or, when verification is
// required, only the fact that a message is on its way.
type SignupResult struct {
	VerificationSent bool
	Tokens           TokenResponse
}

// Signup registers a user. Without required verification the new user is
// signed in at once and a taken email is ErrEmailTaken; with it, a new and
// a taken email get the same answer after the same work (a hash), so that
// signup cannot be used to find out who has an account.
func (s *Service) Signup(ctx context.Context, in SignupInput) (SignupResult, error) {
	ctx = WithClient(ctx, in.Client)
	email, err := ParseEmail(in.Email)
	if err != nil {
		return SignupResult{}, err
	}
	if in.Password == "" {
		return SignupResult{}, invalid("password", "is required")
	}
	meta, err := checkMetadata(in.Metadata)
	if err != nil {
		return SignupResult{}, err
	}
	pw := password.Normalize(in.Password)
	if err := s.checkPolicy(ctx, pw, email); err != nil {
		return SignupResult{}, err
	}
	if s.opts.RequireVerification {
		// Counted before anything else, so that new and taken addresses
		// meet the limit alike and nobody can flood an inbox.
		if err := s.quota(ctx, "signup", email); err != nil {
			return SignupResult{}, err
		}
	}
	hash, err := s.hasher.Hash(ctx, pw)
	if err != nil {
		return SignupResult{}, fmt.Errorf("signup: %w", err)
	}
	now := s.now().UTC()
	u := store.User{
		ID:                uuid.Must(uuid.NewV7()).String(),
		Email:             email,
		PasswordHash:      hash,
		Metadata:          meta,
		CreatedAt:         now,
		UpdatedAt:         now,
		PasswordChangedAt: now,
	}
	if s.opts.RequireVerification {
		err = s.store.CreateUser(ctx, u)
		switch {
		case errors.Is(err, store.ErrAlreadyExists):
			// The owner hears of it, with a reset link in case they
			// forgot they had an account; the caller cannot tell.
			s.record(ctx, "signup.existing", "", "", map[string]any{"email": email})
			if err := s.enqueue(ctx, kindSignupExisting, email, "", mailData{}, s.opts.Mail.RecoverTTL); err != nil {
				return SignupResult{}, fmt.Errorf("signup: %w", err)
			}
			return SignupResult{VerificationSent: true}, nil
		case err != nil:
			return SignupResult{}, fmt.Errorf("signup: %w", err)
		}
		s.record(ctx, "signup", u.ID, "", nil)
		if err := s.enqueue(ctx, kindVerify, email, u.ID, mailData{}, s.opts.Mail.VerifyTTL); err != nil {
			// The account stands; POST /v1/verify/resend sends the link.
			return SignupResult{}, fmt.Errorf("signup: %w", err)
		}
		return SignupResult{VerificationSent: true}, nil
	}
	// Signed in at once: the account and its first session are written in
	// one transaction, so that a failure leaves no account behind for the
	// client's retry to find taken.
	u.LastSignInAt = now
	sess, rt := s.newSession(u, in.Client, []string{"pwd"}, now)
	err = s.store.CreateUserWithSession(ctx, u, sess)
	switch {
	case errors.Is(err, store.ErrAlreadyExists):
		return SignupResult{}, ErrEmailTaken
	case err != nil:
		return SignupResult{}, fmt.Errorf("signup: %w", err)
	}
	s.record(ctx, "signup", u.ID, "", nil)
	tr, err := s.issue(u, sess, rt)
	if err != nil {
		return SignupResult{}, err
	}
	tr.DeviceToken = s.newDeviceToken(u.ID, "")
	return SignupResult{Tokens: tr}, nil
}

// PasswordLogin signs a user in with email and password. Unknown email,
// wrong password and disabled account give the same error after the same
// work, and every attempt is reserved with the throttler first. A valid
// device token of the account's (device.go) replaces the account-wide
// counter with the device's own.
func (s *Service) PasswordLogin(ctx context.Context, email, pw, deviceToken string, c Client) (TokenResponse, error) {
	ctx = WithClient(ctx, c)
	if email == "" {
		return TokenResponse{}, invalid("email", "is required")
	}
	if pw == "" {
		return TokenResponse{}, invalid("password", "is required")
	}
	email = NormalizeEmail(email)
	if len(email) > maxEmailLen {
		// Cannot be an account; cap what reaches the throttle keys.
		email = email[:maxEmailLen]
	}
	at := ratelimit.Attempt{Email: email, IP: c.IP}
	if deviceToken != "" {
		// Only a token bound to this address's account counts, so the
		// account is looked up first; a token is never a reason to
		// answer differently, only to meet another counter.
		if u, err := s.store.GetUserByEmail(ctx, email); err == nil {
			at.Device = s.deviceOf(deviceToken, u.ID)
		} else if !errors.Is(err, store.ErrNotFound) {
			return TokenResponse{}, fmt.Errorf("login: %w", err)
		}
	}
	if err := s.reserve(ctx, at, "pwd"); err != nil {
		return TokenResponse{}, fmt.Errorf("login: %w", err)
	}
	u, ok, rehash, err := s.checkPassword(ctx, email, pw)
	if err != nil {
		return TokenResponse{}, fmt.Errorf("login: %w", err)
	}
	if !ok {
		s.record(ctx, "login.failure", "", "", s.auditEmail(email))
		return TokenResponse{}, ErrInvalidCredentials
	}
	if err := s.succeed(ctx, at); err != nil {
		return TokenResponse{}, fmt.Errorf("login: %w", err)
	}
	if s.opts.RequireVerification && !u.EmailVerified {
		return TokenResponse{}, ErrEmailNotVerified
	}
	return s.startSession(ctx, u, pw, rehash, c, at.Device)
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

// reserve reserves one attempt of a credential with the throttler; a
// ThrottledError (audited) if the attempt must wait. method is the
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
		return &ThrottledError{RetryAfter: wait}
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
	u, err = s.store.GetUserByEmail(ctx, email)
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
func (s *Service) startSession(ctx context.Context, u store.User, pw string, rehash bool, c Client, device string) (TokenResponse, error) {
	var newHash string
	var err error
	if rehash {
		if newHash, err = s.hasher.Hash(ctx, password.Normalize(pw)); err != nil {
			return TokenResponse{}, fmt.Errorf("login: rehash: %w", err)
		}
	}
	now := s.now().UTC()
	checked := u
	u, err = s.store.UpdateUser(ctx, u.ID, func(x *store.User) error {
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
	return s.openSession(ctx, u, c, []string{"pwd"}, now, device, ErrInvalidCredentials)
}

// openSession starts a session for u, who has just been identified, and
// issues its tokens and a device token: the one place a sign-in ends.
// stale is the error to answer when a credential change overtook the
// identification (the store refuses the session).
func (s *Service) openSession(ctx context.Context, u store.User, c Client, amr []string, authTime time.Time, device string, stale error) (TokenResponse, error) {
	sess, rt := s.newSession(u, c, amr, authTime)
	err := s.store.CreateSession(ctx, sess)
	switch {
	case errors.Is(err, store.ErrStale):
		s.record(ctx, "login.stale", u.ID, "", map[string]any{"method": amr[0]})
		return TokenResponse{}, stale
	case err != nil:
		return TokenResponse{}, fmt.Errorf("sign in: create session: %w", err)
	}
	detail := map[string]any(nil)
	if amr[0] != "pwd" {
		detail = map[string]any{"method": amr[0]}
	}
	s.record(ctx, "login.success", u.ID, sess.ID, detail)
	tr, err := s.issue(u, sess, rt)
	if err != nil {
		return TokenResponse{}, err
	}
	tr.DeviceToken = s.newDeviceToken(u.ID, device)
	return tr, nil
}

// errNoWrite aborts an UpdateSession whose decision needs no write.
var errNoWrite = errors.New("no write needed")

// Refresh rotates a refresh token: the presented token must be the
// session's live one, which is replaced by its successor. Presenting the
// immediate parent of the live token within the grace window returns the
// same successor again (two tabs refreshing at once); presenting any other
// earlier token is re-use, which revokes the whole session (RFC 9700
// §4.14.2).
func (s *Service) Refresh(ctx context.Context, presented string, c Client) (TokenResponse, error) {
	ctx = WithClient(ctx, c)
	if presented == "" {
		return TokenResponse{}, invalid("refresh_token", "is required")
	}
	if !wellFormedRefresh(presented) {
		return TokenResponse{}, ErrInvalidGrant
	}
	h := hashToken(presented)
	next := s.successor(presented)
	nextHash := hashToken(next)
	// One transaction finds the session by the presented token, reads its
	// user and rotates, with the session row locked throughout: a
	// concurrent refresh, logout or re-use waits for it, and none can
	// slip in between a read and the write.
	var (
		sess    store.Session
		u       store.User
		reused  bool
		noWrite bool
	)
	updated, _, err := s.store.UpdateSessionByRefreshHash(ctx, h, func(x *store.Session, user store.User) error {
		sess, u = *x, user
		if u.Disabled {
			return ErrInvalidGrant
		}
		now := s.now().UTC()
		if !s.sessionLive(*x, now) {
			return ErrInvalidGrant
		}
		switch {
		case bytes.Equal(h, x.RefreshHash):
			x.ParentHash = x.RefreshHash
			x.RefreshHash = nextHash
			x.RotatedAt = now
			x.LastActiveAt = now
			x.Generation++
			return nil
		case bytes.Equal(h, x.ParentHash) && bytes.Equal(nextHash, x.RefreshHash) &&
			now.Sub(x.RotatedAt) <= s.opts.RefreshReuseGrace:
			noWrite = true
			return errNoWrite
		default:
			reused = true
			x.RevokedAt = now
			return nil
		}
	})
	switch {
	case noWrite && errors.Is(err, errNoWrite):
		// The grace path wrote nothing; the session read in the
		// transaction carries the same id and claims.
	case errors.Is(err, store.ErrNotFound), errors.Is(err, ErrInvalidGrant):
		return TokenResponse{}, ErrInvalidGrant
	case err != nil:
		return TokenResponse{}, fmt.Errorf("refresh: %w", err)
	default:
		sess = updated
	}
	if reused {
		s.record(ctx, "refresh.reuse", u.ID, sess.ID, map[string]any{"session_revoked": true})
		return TokenResponse{}, ErrInvalidGrant
	}
	if noWrite {
		s.audit.Count("refresh.grace")
	} else {
		s.audit.Count("refresh.rotate")
	}
	return s.issue(u, sess, next)
}

// sessionRemaining is how long a live session can still be refreshed.
func (s *Service) sessionRemaining(sess store.Session, now time.Time) time.Duration {
	end := sess.ExpiresAt
	if idle := sess.LastActiveAt.Add(s.opts.SessionIdleTimeout); idle.Before(end) {
		end = idle
	}
	return end.Sub(now)
}
