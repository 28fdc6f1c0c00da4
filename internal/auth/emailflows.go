package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/latchauth/latch/internal/password"
	"github.com/latchauth/latch/internal/store"
)

// ErrInvalidLink: a one-time link token or code is unknown, used, expired,
// or no longer valid because the account's password or address changed
// since it was sent. One error for all, so that answers do not tell them
// apart.
var ErrInvalidLink = errors.New("the link or code is invalid or has expired")

// ErrPasswordlessOff: passwordless sign-in is not enabled.
var ErrPasswordlessOff = errors.New("passwordless sign-in is not enabled")

// noUser is a user id no account has.
const noUser = "00000000-0000-0000-0000-000000000000"

// maxCodeAttempts is how many wrong codes one sign-in code survives.
const maxCodeAttempts = 5

// usable reports whether a one-time token of purpose can still be used on
// u at now. A token dies with a later password change or a change of the
// account's address, as OWASP's Forgot Password cheat sheet asks.
func (s *Service) usable(t store.OneTimeToken, u store.User, purposes ...store.TokenPurpose) bool {
	now := s.now()
	return slices.Contains(purposes, t.Purpose) &&
		t.UsedAt.IsZero() &&
		now.Before(t.ExpiresAt) &&
		t.Attempts < maxCodeAttempts &&
		!u.Disabled &&
		u.Email == t.Email &&
		!t.CreatedAt.Before(u.PasswordChangedAt)
}

// useToken spends a link token of one of purposes and applies change to
// its account in the same transaction.
func (s *Service) useToken(ctx context.Context, tok string, change func(*store.OneTimeToken, *store.User) error, purposes ...store.TokenPurpose) (store.OneTimeToken, store.User, error) {
	if tok == "" {
		return store.OneTimeToken{}, store.User{}, invalid("token", "is required")
	}
	if !wellFormedLinkToken(tok) {
		return store.OneTimeToken{}, store.User{}, ErrInvalidLink
	}
	t, u, err := s.store.UseOneTimeToken(ctx, hashToken(tok), func(t *store.OneTimeToken, u *store.User) error {
		if !s.usable(*t, *u, purposes...) {
			return ErrInvalidLink
		}
		t.UsedAt = s.now().UTC()
		return change(t, u)
	})
	if errors.Is(err, store.ErrNotFound) {
		return t, u, ErrInvalidLink
	}
	return t, u, err
}

// VerifyEmailLink spends a verification link: the address is verified and,
// when signIn is set, a session starts (amr "otp": the link is a one-time
// secret sent to the address). latch's own confirmation page passes
// signIn false, since no application is there to receive the tokens.
func (s *Service) VerifyEmailLink(ctx context.Context, tok string, c Client, signIn bool) (TokenResponse, error) {
	ctx = WithClient(ctx, c)
	_, u, err := s.useToken(ctx, tok, func(_ *store.OneTimeToken, u *store.User) error {
		u.EmailVerified = true
		u.UpdatedAt = s.now().UTC()
		return nil
	}, store.PurposeVerify)
	if err != nil {
		return TokenResponse{}, err
	}
	s.record(ctx, "email.verify", u.ID, "", nil)
	if !signIn {
		return TokenResponse{User: u}, nil
	}
	return s.linkSession(ctx, u, c)
}

// linkSession opens a session for a user who proved control of the
// address with an emailed link or code.
func (s *Service) linkSession(ctx context.Context, u store.User, c Client) (TokenResponse, error) {
	now := s.now().UTC()
	u, err := s.store.UpdateUser(ctx, u.ID, func(x *store.User) error {
		x.LastSignInAt = now
		return nil
	})
	if err != nil {
		return TokenResponse{}, fmt.Errorf("sign in: %w", err)
	}
	sess, rt := s.newSession(u, c, []string{"otp"})
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return TokenResponse{}, fmt.Errorf("sign in: create session: %w", err)
	}
	s.record(ctx, "login.success", u.ID, sess.ID, map[string]any{"method": "otp"})
	return s.issue(u, sess, rt)
}

// ResendVerification sends a new verification link to the address if it
// belongs to an unverified account. The answer is the same either way.
func (s *Service) ResendVerification(ctx context.Context, email string, c Client) error {
	ctx = WithClient(ctx, c)
	e, err := ParseEmail(email)
	if err != nil {
		return err
	}
	if err := s.quota(ctx, kindVerify, e); err != nil {
		return err
	}
	return s.enqueue(ctx, kindVerify, e, "", mailData{}, s.opts.Mail.VerifyTTL)
}

// Recover asks for a password reset link. It does the same work, one
// write, whether or not the address has an account: the sender decides
// later, away from the request, whether there is anyone to write to.
func (s *Service) Recover(ctx context.Context, email string, c Client) error {
	ctx = WithClient(ctx, c)
	e, err := ParseEmail(email)
	if err != nil {
		return err
	}
	if err := s.quota(ctx, kindRecover, e); err != nil {
		return err
	}
	if err := s.enqueue(ctx, kindRecover, e, "", mailData{IP: c.IP}, s.opts.Mail.RecoverTTL); err != nil {
		return err
	}
	s.record(ctx, "recover.request", "", "", map[string]any{"email": e})
	return nil
}

// errPeek ends a read-only look at a token inside UseOneTimeToken.
var errPeek = errors.New("peek")

// ResetPassword spends a reset link: the new password passes the signup
// policy, every session ends, throttling of the account is cleared and
// the owner is told. It does not sign in. Following the link proves
// control of the address, so the address becomes verified too.
func (s *Service) ResetPassword(ctx context.Context, tok, pw string, c Client) error {
	ctx = WithClient(ctx, c)
	if pw == "" {
		return invalid("password", "is required")
	}
	// Look first, so that a dead link is refused before the costly hash
	// and the policy can compare the password with the address.
	var email string
	_, _, err := s.useToken(ctx, tok, func(_ *store.OneTimeToken, u *store.User) error {
		email = u.Email
		return errPeek
	}, store.PurposeRecover)
	if !errors.Is(err, errPeek) {
		if err == nil {
			err = ErrInvalidLink
		}
		return err
	}
	pw = password.Normalize(pw)
	if err := s.checkPolicy(ctx, pw, email); err != nil {
		return err
	}
	hash, err := s.hasher.Hash(ctx, pw)
	if err != nil {
		return fmt.Errorf("reset password: %w", err)
	}
	now := s.now().UTC()
	_, u, err := s.useToken(ctx, tok, func(_ *store.OneTimeToken, u *store.User) error {
		u.PasswordHash = hash
		u.PasswordChangedAt = now
		u.EmailVerified = true
		u.UpdatedAt = now
		return nil
	}, store.PurposeRecover)
	if err != nil {
		return err
	}
	n, err := s.store.RevokeSessions(ctx, u.ID, "", now)
	if err != nil {
		return fmt.Errorf("reset password: revoke sessions: %w", err)
	}
	// The account's failures, and those from the address that proved
	// control of the mailbox, are forgotten; a guesser's other addresses
	// stay slowed down.
	if s.throttler != nil {
		if err := s.throttler.Succeed(ctx, u.Email, c.IP); err != nil {
			return fmt.Errorf("reset password: %w", err)
		}
	}
	s.record(ctx, "password.reset", u.ID, "", map[string]any{"sessions_revoked": n})
	s.notifyPasswordChanged(ctx, u, c.IP)
	return nil
}

// notifyPasswordChanged tells the owner that the password changed. The
// change is done by then, so a failure to queue the notice is logged
// rather than turned into an error the client would retry.
func (s *Service) notifyPasswordChanged(ctx context.Context, u store.User, ip string) {
	if err := s.enqueue(ctx, kindPasswordChanged, u.Email, u.ID, mailData{IP: ip}, 7*24*time.Hour); err != nil {
		s.log.WarnContext(ctx, "cannot queue the password-changed notice", "user_id", u.ID, "err", err)
	}
}

// ConfirmEmailChange spends an email-change link sent to the new address:
// the account moves to it, verified. ErrEmailTaken if another account
// took the address meanwhile.
func (s *Service) ConfirmEmailChange(ctx context.Context, tok string, c Client) (store.User, error) {
	ctx = WithClient(ctx, c)
	var old string
	_, u, err := s.useToken(ctx, tok, func(t *store.OneTimeToken, u *store.User) error {
		old = u.Email
		u.Email = t.NewEmail
		u.EmailVerified = true
		u.UpdatedAt = s.now().UTC()
		return nil
	}, store.PurposeEmailChange)
	if errors.Is(err, store.ErrAlreadyExists) {
		return store.User{}, ErrEmailTaken
	} else if err != nil {
		return store.User{}, err
	}
	s.record(ctx, "email.change", u.ID, "", map[string]any{"from": old, "to": u.Email})
	return u, nil
}

// requestEmailChange sends a confirmation link to the new address and a
// notice to the old one; nothing changes until the link is followed.
func (s *Service) requestEmailChange(ctx context.Context, p Principal, newEmail string) error {
	if err := s.quota(ctx, kindEmailChange, p.User.Email); err != nil {
		return err
	}
	ip := clientFrom(ctx).IP
	if err := s.enqueue(ctx, kindEmailChange, newEmail, p.User.ID, mailData{OldEmail: p.User.Email}, s.opts.Mail.EmailTTL); err != nil {
		return err
	}
	if err := s.enqueue(ctx, kindEmailChangeNotice, p.User.Email, p.User.ID, mailData{NewEmail: newEmail, IP: ip}, 7*24*time.Hour); err != nil {
		return err
	}
	s.record(ctx, "email.change.request", p.User.ID, p.Session.ID, map[string]any{"to": newEmail})
	return nil
}

// RequestOTP sends a sign-in code (and, with an application URL, a link)
// to the address if it has an account; the answer and the work are the
// same either way.
func (s *Service) RequestOTP(ctx context.Context, email string, c Client) error {
	ctx = WithClient(ctx, c)
	if !s.opts.Mail.Passwordless {
		return ErrPasswordlessOff
	}
	e, err := ParseEmail(email)
	if err != nil {
		return err
	}
	if err := s.quota(ctx, kindOTP, e); err != nil {
		return err
	}
	return s.enqueue(ctx, kindOTP, e, "", mailData{}, s.opts.Mail.OTPTTL)
}

// OTPLinkLogin signs in with the token of a sign-in link.
func (s *Service) OTPLinkLogin(ctx context.Context, tok string, c Client) (TokenResponse, error) {
	ctx = WithClient(ctx, c)
	if !s.opts.Mail.Passwordless {
		return TokenResponse{}, ErrPasswordlessOff
	}
	_, u, err := s.useToken(ctx, tok, func(_ *store.OneTimeToken, u *store.User) error {
		u.EmailVerified = true
		return nil
	}, store.PurposeOTP)
	if err != nil {
		return TokenResponse{}, err
	}
	return s.linkSession(ctx, u, c)
}

// OTPCodeLogin signs in with the address and its six-digit code. Guesses
// pass the same throttle as passwords (per account, per address and per
// pair), and each code dies after maxCodeAttempts wrong tries, so a
// code's 10^6 values cannot be searched.
func (s *Service) OTPCodeLogin(ctx context.Context, email, code string, c Client) (TokenResponse, error) {
	ctx = WithClient(ctx, c)
	if !s.opts.Mail.Passwordless {
		return TokenResponse{}, ErrPasswordlessOff
	}
	if email == "" {
		return TokenResponse{}, invalid("email", "is required")
	}
	if code == "" {
		return TokenResponse{}, invalid("code", "is required")
	}
	email = NormalizeEmail(email)
	if len(email) > maxEmailLen {
		email = email[:maxEmailLen]
	}
	if err := s.checkThrottle(ctx, email, c.IP, "otp"); err != nil {
		return TokenResponse{}, fmt.Errorf("otp login: %w", err)
	}
	u, err := s.matchCode(ctx, email, code)
	if errors.Is(err, ErrInvalidLink) {
		s.record(ctx, "login.failure", "", "", map[string]any{"email": email, "method": "otp"})
		if s.throttler != nil {
			if err := s.throttler.Fail(ctx, email, c.IP); err != nil {
				return TokenResponse{}, fmt.Errorf("otp login: %w", err)
			}
		}
		return TokenResponse{}, ErrInvalidLink
	} else if err != nil {
		return TokenResponse{}, fmt.Errorf("otp login: %w", err)
	}
	if s.throttler != nil {
		if err := s.throttler.Succeed(ctx, email, c.IP); err != nil {
			return TokenResponse{}, fmt.Errorf("otp login: %w", err)
		}
	}
	return s.linkSession(ctx, u, c)
}

// matchCode spends the live sign-in token of the account whose code is
// code, or counts a wrong try against every live one, so that asking for
// several codes does not buy more guesses.
func (s *Service) matchCode(ctx context.Context, email, code string) (store.User, error) {
	if len(code) != 6 || !isDigits(code) {
		return store.User{}, ErrInvalidLink
	}
	u, err := s.store.GetUserByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		// The same queries as for an account with no live code, so that
		// the time taken does not tell whether the address has one.
		if _, err := s.store.ListOneTimeTokens(ctx, noUser, store.PurposeOTP); err != nil {
			return store.User{}, err
		}
		return store.User{}, ErrInvalidLink
	} else if err != nil {
		return store.User{}, err
	}
	toks, err := s.store.ListOneTimeTokens(ctx, u.ID, store.PurposeOTP)
	if err != nil {
		return store.User{}, err
	}
	var live []string
	for _, t := range toks {
		if !s.usable(t, u, store.PurposeOTP) {
			continue
		}
		live = append(live, t.ID)
		if !equalMAC(t.CodeHash, s.codeHash(t.ID, code)) {
			continue
		}
		_, u2, err := s.store.UseOneTimeToken(ctx, t.Hash, func(t *store.OneTimeToken, x *store.User) error {
			if !s.usable(*t, *x, store.PurposeOTP) {
				return ErrInvalidLink
			}
			t.UsedAt = s.now().UTC()
			x.EmailVerified = true
			return nil
		})
		if errors.Is(err, store.ErrNotFound) {
			return store.User{}, ErrInvalidLink
		}
		return u2, err
	}
	for _, id := range live {
		_, err := s.store.UpdateOneTimeToken(ctx, id, func(t *store.OneTimeToken) error {
			t.Attempts++
			return nil
		})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return store.User{}, err
		}
	}
	return store.User{}, ErrInvalidLink
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
