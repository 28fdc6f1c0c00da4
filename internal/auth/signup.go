package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/latchauth/latch/internal/password"
	"github.com/latchauth/latch/internal/store"
)

// SignupInput is a registration request.
type SignupInput struct {
	Email     string
	Password  string
	Metadata  json.RawMessage
	Requester Requester
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
	ctx = WithRequester(ctx, in.Requester)
	if s.opts.SignupOff {
		return SignupResult{}, ErrSignupDisabled
	}
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
	u := newUser(email, now)
	u.PasswordHash, u.Metadata, u.PasswordChangedAt = hash, meta, now
	if s.opts.RequireVerification {
		return s.signupToVerify(ctx, u)
	}
	return s.signupSignedIn(ctx, u, in.Requester, now)
}

// signupToVerify stores the new account and sends its verification
// link; a taken address gets a message to its owner instead, and the
// caller the same answer.
func (s *Service) signupToVerify(ctx context.Context, u store.User) (SignupResult, error) {
	err := s.users.CreateUser(ctx, u)
	switch {
	case errors.Is(err, store.ErrAlreadyExists):
		// The owner hears of it, with a reset link in case they forgot
		// they had an account; the caller cannot tell.
		s.record(ctx, "signup.existing", "", "", map[string]any{"email": u.Email})
		if err := s.enqueue(ctx, kindSignupExisting, u.Email, "", mailData{}, s.opts.Mail.RecoverTTL); err != nil {
			return SignupResult{}, fmt.Errorf("signup: %w", err)
		}
		return SignupResult{VerificationSent: true}, nil
	case err != nil:
		return SignupResult{}, fmt.Errorf("signup: %w", err)
	}
	s.record(ctx, "signup", u.ID, "", nil)
	if err := s.enqueue(ctx, kindVerify, u.Email, u.ID, mailData{}, s.opts.Mail.VerifyTTL); err != nil {
		// The account stands; POST /v1/verify/resend sends the link.
		return SignupResult{}, fmt.Errorf("signup: %w", err)
	}
	return SignupResult{VerificationSent: true}, nil
}

// signupSignedIn stores the new account and its first session in one
// transaction, so that a failure leaves no account behind for the
// client's retry to find taken.
func (s *Service) signupSignedIn(ctx context.Context, u store.User, c Requester, now time.Time) (SignupResult, error) {
	u.LastSignInAt = now
	sess, secret := s.newSession(u, c, []string{"pwd"}, now)
	err := s.sessions.CreateUserWithSession(ctx, u, sess)
	switch {
	case errors.Is(err, store.ErrAlreadyExists):
		return SignupResult{}, ErrEmailTaken
	case err != nil:
		return SignupResult{}, fmt.Errorf("signup: %w", err)
	}
	s.record(ctx, "signup", u.ID, "", nil)
	tr := TokenResponse{RefreshToken: secret, User: u, Session: sess}
	if sess.Kind != store.SessionBrowser {
		if tr, err = s.issue(u, sess, secret); err != nil {
			return SignupResult{}, err
		}
	}
	tr.DeviceToken = s.newDeviceToken(u.ID, "")
	return SignupResult{Tokens: tr}, nil
}

// newUser is a new account for email, made at now: unverified, without a
// password, with empty metadata.
func newUser(email string, now time.Time) store.User {
	return store.User{ID: uuid.Must(uuid.NewV7()).String(), Email: email, Metadata: json.RawMessage("{}"), CreatedAt: now, UpdatedAt: now}
}
