package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/latchauth/latch/internal/ratelimit"
	"github.com/latchauth/latch/internal/store"
)

// noUser is a user id no account has.
const noUser = "00000000-0000-0000-0000-000000000000"

// maxCodeAttempts is how many wrong codes one sign-in code survives.
const maxCodeAttempts = 5

// usable reports whether a one-time token of purpose can still be used on
// u at now. A token dies with a later password change or a change of the
// account's address, as OWASP's Forgot Password cheat sheet asks, and a
// verification link once the address is verified. An undo link for an
// email change is the exception: it must survive what whoever changed the
// address does next (a new password, the change confirmed), so it works
// while the account is at either of its two addresses.
func (s *Service) usable(t store.OneTimeToken, u store.User, purposes ...store.TokenPurpose) bool {
	now := s.now()
	if !slices.Contains(purposes, t.Purpose) || !t.UsedAt.IsZero() || !now.Before(t.ExpiresAt) ||
		t.Attempts >= maxCodeAttempts || u.Disabled {
		return false
	}
	switch t.Purpose {
	case store.PurposeEmailRevert:
		return u.Email == t.Email || u.Email == t.NewEmail
	case store.PurposeVerify:
		if u.EmailVerified {
			return false
		}
	}
	return u.Email == t.Email && !t.CreatedAt.Before(u.PasswordChangedAt)
}

// useToken spends a link token of one of purposes and applies change to
// its account in the same transaction; the store kills the token's
// unused siblings of the same purpose with it.
func (s *Service) useToken(ctx context.Context, tok string, change func(*store.OneTimeToken, *store.User) error, purposes ...store.TokenPurpose) (store.OneTimeToken, store.User, error) {
	if tok == "" {
		return store.OneTimeToken{}, store.User{}, invalid("token", "is required")
	}
	if !wellFormedLinkToken(tok) {
		return store.OneTimeToken{}, store.User{}, ErrInvalidLink
	}
	t, u, err := s.onetime.UseOneTimeToken(ctx, hashToken(tok), func(t *store.OneTimeToken, u *store.User) error {
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

// peekToken checks a link token of purpose without spending it and
// returns its account's address: a dead link is refused before the costly
// hash, and the policy can compare a new password with the address.
func (s *Service) peekToken(ctx context.Context, tok string, purpose store.TokenPurpose) (string, error) {
	var email string
	_, _, err := s.useToken(ctx, tok, func(_ *store.OneTimeToken, u *store.User) error {
		email = u.Email
		return errPeek
	}, purpose)
	if !errors.Is(err, errPeek) {
		if err == nil {
			err = ErrInvalidLink
		}
		return "", err
	}
	return email, nil
}

// newPasswordHash checks a password the holder of a link chooses against
// the policy and hashes it.
func (s *Service) newPasswordHash(ctx context.Context, tok, pw string, purpose store.TokenPurpose) (string, error) {
	email, err := s.peekToken(ctx, tok, purpose)
	if err != nil {
		return "", err
	}
	if pw == "" {
		return "", invalid("password", "is required")
	}
	return s.hashNewPassword(ctx, "hash password", pw, email)
}

// setPassword is what a link that sets the password does to its account:
// the new hash, the address proven, and a new credential epoch, so that a
// sign-in with the old password that is still in flight starts nothing.
func (s *Service) setPassword(u *store.User, hash string, now time.Time) {
	u.PasswordHash = hash
	u.PasswordChangedAt = now
	u.EmailVerified = true
	u.UpdatedAt = now
	u.CredentialEpoch++
}

// spendPasswordLink spends the link tok of purpose, which sets the
// password pw on its account (setPassword), and ends every session of the
// account. It returns the account, how many sessions ended, and when the
// password was set; op names the flow in the error of a failed
// revocation.
func (s *Service) spendPasswordLink(ctx context.Context, op, tok, pw string, purpose store.TokenPurpose) (store.User, int64, time.Time, error) {
	hash, err := s.newPasswordHash(ctx, tok, pw, purpose)
	if err != nil {
		return store.User{}, 0, time.Time{}, err
	}
	now := s.now().UTC()
	_, u, err := s.useToken(ctx, tok, func(_ *store.OneTimeToken, u *store.User) error {
		s.setPassword(u, hash, now)
		return nil
	}, purpose)
	if err != nil {
		return store.User{}, 0, time.Time{}, err
	}
	n, err := s.sessions.RevokeSessions(ctx, u.ID, "", now)
	if err != nil {
		return store.User{}, 0, time.Time{}, fmt.Errorf("%s: revoke sessions: %w", op, err)
	}
	return u, n, now, nil
}

// VerifyEmailLink spends a verification link. Following the link proves
// the mailbox, not the password that whoever signed up chose: the
// verifier sets the password (pw, under the signup policy; the owner
// simply types theirs again), and every session not made by this step
// ends, so that nobody who pre-registered the address keeps a way in.
// With signIn a session starts (amr "pwd", auth_time now); latch's own
// confirmation page passes signIn false, since no application is there
// to receive the tokens.
func (s *Service) VerifyEmailLink(ctx context.Context, tok, pw string, c Requester, signIn bool) (TokenResponse, error) {
	ctx = WithRequester(ctx, c)
	if tok == "" {
		return TokenResponse{}, invalid("token", "is required")
	}
	u, n, now, err := s.spendPasswordLink(ctx, "verify", tok, pw, store.PurposeVerify)
	if err != nil {
		return TokenResponse{}, err
	}
	s.record(ctx, "email.verify", u.ID, "", map[string]any{"sessions_revoked": n})
	if !signIn {
		return TokenResponse{User: u}, nil
	}
	return s.linkSession(ctx, u, c, []string{"pwd"}, now)
}

// linkSession opens a session for a user who proved control of the
// address with an emailed link or code (or set a password with one).
// authTime is zero for a link alone: following a link proves no
// credential.
func (s *Service) linkSession(ctx context.Context, u store.User, c Requester, amr []string, authTime time.Time) (TokenResponse, error) {
	now := s.now().UTC()
	u, err := s.users.UpdateUser(ctx, u.ID, func(x *store.User) error {
		x.LastSignInAt = now
		return nil
	})
	if err != nil {
		return TokenResponse{}, fmt.Errorf("sign in: %w", err)
	}
	return s.openSession(ctx, signIn{user: u, via: c, amr: amr, authTime: authTime, stale: ErrInvalidLink})
}

// ResendVerification sends a new verification link to the address if it
// belongs to an unverified account. The answer is the same either way.
func (s *Service) ResendVerification(ctx context.Context, email string, c Requester) error {
	ctx = WithRequester(ctx, c)
	e, err := s.mailRequest(ctx, kindVerify, email)
	if err != nil {
		return err
	}
	return s.enqueue(ctx, kindVerify, e, "", mailData{}, s.opts.Mail.VerifyTTL)
}

// mailRequest checks the address a request asks latch to write to and
// counts the request against the quota of its kind of message.
func (s *Service) mailRequest(ctx context.Context, kind, email string) (string, error) {
	e, err := ParseEmail(email)
	if err != nil {
		return "", err
	}
	if err := s.quota(ctx, kind, e); err != nil {
		return "", err
	}
	return e, nil
}

// Recover asks for a password reset link. It does the same work, one
// write, whether or not the address has an account: the sender decides
// later, away from the request, whether there is anyone to write to.
func (s *Service) Recover(ctx context.Context, email string, c Requester) error {
	ctx = WithRequester(ctx, c)
	e, err := s.mailRequest(ctx, kindRecover, email)
	if err != nil {
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
func (s *Service) ResetPassword(ctx context.Context, tok, pw string, c Requester) error {
	ctx = WithRequester(ctx, c)
	u, n, _, err := s.spendPasswordLink(ctx, "reset password", tok, pw, store.PurposeRecover)
	if err != nil {
		return err
	}
	// The account's failures, and those from the address that proved
	// control of the mailbox, are forgotten; a guesser's other addresses
	// stay slowed down.
	if err := s.succeed(ctx, ratelimit.Attempt{Email: u.Email, IP: c.IP}); err != nil {
		return fmt.Errorf("reset password: %w", err)
	}
	s.record(ctx, "password.reset", u.ID, "", map[string]any{"sessions_revoked": n})
	s.notifyPasswordChanged(ctx, u, c.IP)
	return nil
}

// notifyPasswordChanged tells the owner that the password changed. The
// change is done by then, so a failure to queue the notice is logged
// rather than turned into an error the client would retry.
func (s *Service) notifyPasswordChanged(ctx context.Context, u store.User, ip string) {
	if err := s.enqueue(ctx, kindPasswordChanged, u.Email, u.ID, mailData{IP: ip}, noticeTTL); err != nil {
		s.log.WarnContext(ctx, "cannot queue the password-changed notice", "user_id", u.ID, "err", err)
	}
}

// ConfirmEmailChange spends an email-change link sent to the new address:
// the account moves to it, verified, and every session but the one that
// asked for the change ends. ErrEmailTaken if another account took the
// address meanwhile.
func (s *Service) ConfirmEmailChange(ctx context.Context, tok string, c Requester) (store.User, error) {
	ctx = WithRequester(ctx, c)
	var old, keep string
	now := s.now().UTC()
	_, u, err := s.useToken(ctx, tok, func(t *store.OneTimeToken, u *store.User) error {
		old, keep = u.Email, t.SessionID
		u.Email = t.NewEmail
		u.EmailVerified = true
		u.UpdatedAt = now
		u.CredentialEpoch++
		return nil
	}, store.PurposeEmailChange)
	if errors.Is(err, store.ErrAlreadyExists) {
		return store.User{}, ErrEmailTaken
	} else if err != nil {
		return store.User{}, err
	}
	n, err := s.sessions.RevokeSessions(ctx, u.ID, keep, now)
	if err != nil {
		return store.User{}, fmt.Errorf("confirm email change: revoke sessions: %w", err)
	}
	s.record(ctx, "email.change", u.ID, keep, map[string]any{"from": old, "to": u.Email, "sessions_revoked": n})
	return u, nil
}

// RevertEmailChange spends the undo link of an email-change notice, sent
// to the old address: the account keeps, or returns to, that address;
// every session ends; the password is removed, since whoever changed the
// address may know it; and a reset link goes to the old address. It does
// not sign in.
func (s *Service) RevertEmailChange(ctx context.Context, tok string, c Requester) error {
	ctx = WithRequester(ctx, c)
	now := s.now().UTC()
	var from string
	_, u, err := s.useToken(ctx, tok, func(t *store.OneTimeToken, u *store.User) error {
		from = u.Email
		u.Email = t.Email
		u.EmailVerified = true
		u.PasswordHash = ""
		u.PasswordChangedAt = now // also kills every link sent before
		u.UpdatedAt = now
		u.CredentialEpoch++
		return nil
	}, store.PurposeEmailRevert)
	if errors.Is(err, store.ErrAlreadyExists) {
		return ErrEmailTaken
	} else if err != nil {
		return err
	}
	n, err := s.sessions.RevokeSessions(ctx, u.ID, "", now)
	if err != nil {
		return fmt.Errorf("revert email change: revoke sessions: %w", err)
	}
	s.record(ctx, "email.revert", u.ID, "", map[string]any{"from": from, "to": u.Email, "sessions_revoked": n})
	return s.enqueue(ctx, kindRecover, u.Email, u.ID, mailData{IP: c.IP}, s.opts.Mail.RecoverTTL)
}

// requestEmailChange sends a confirmation link to the new address and a
// notice, with an undo link, to the old one; nothing changes until the
// confirmation link is followed.
func (s *Service) requestEmailChange(ctx context.Context, p Principal, newEmail string) error {
	if err := s.quota(ctx, kindEmailChange, p.User.Email); err != nil {
		return err
	}
	ip := RequesterFrom(ctx).IP
	if err := s.enqueue(ctx, kindEmailChange, newEmail, p.User.ID, mailData{OldEmail: p.User.Email, SessionID: p.Session.ID}, s.opts.Mail.EmailTTL); err != nil {
		return err
	}
	if err := s.enqueue(ctx, kindEmailChangeNotice, p.User.Email, p.User.ID, mailData{NewEmail: newEmail, IP: ip}, noticeTTL); err != nil {
		return err
	}
	s.record(ctx, "email.change.request", p.User.ID, p.Session.ID, map[string]any{"to": newEmail})
	return nil
}

// RequestOTP sends a sign-in code (and, with an application URL, a link)
// to the address if it has an account; the answer and the work are the
// same either way.
func (s *Service) RequestOTP(ctx context.Context, email string, c Requester) error {
	ctx = WithRequester(ctx, c)
	if !s.opts.Mail.Passwordless {
		return ErrPasswordlessOff
	}
	e, err := s.mailRequest(ctx, kindOTP, email)
	if err != nil {
		return err
	}
	return s.enqueue(ctx, kindOTP, e, "", mailData{}, s.opts.Mail.OTPTTL)
}

// OTPLinkLogin signs in with the token of a sign-in link. Following a
// link proves the mailbox but no credential: the session has no
// auth_time.
func (s *Service) OTPLinkLogin(ctx context.Context, tok string, c Requester) (TokenResponse, error) {
	ctx = WithRequester(ctx, c)
	if !s.opts.Mail.Passwordless {
		return TokenResponse{}, ErrPasswordlessOff
	}
	now := s.now().UTC()
	var claimed bool
	_, u, err := s.useToken(ctx, tok, func(_ *store.OneTimeToken, u *store.User) error {
		claimed = s.proveMailbox(u, now)
		return nil
	}, store.PurposeOTP)
	if err != nil {
		return TokenResponse{}, err
	}
	if err := s.endPreRegistered(ctx, u, claimed, now); err != nil {
		return TokenResponse{}, err
	}
	return s.linkSession(ctx, u, c, []string{"otp"}, time.Time{})
}

// proveMailbox marks the address of u verified by an emailed code or
// link. An address that was not verified until now may belong to an
// account someone else registered with a password of their own: the
// password goes, and the caller ends every session (endPreRegistered).
func (s *Service) proveMailbox(u *store.User, now time.Time) (claimed bool) {
	if u.EmailVerified {
		return false
	}
	u.EmailVerified = true
	u.UpdatedAt = now
	if u.PasswordHash != "" {
		u.PasswordHash = ""
		u.PasswordChangedAt = now
	}
	u.CredentialEpoch++
	return true
}

// endPreRegistered ends every session of an account whose address was
// just proven for the first time by a code or link (see proveMailbox).
func (s *Service) endPreRegistered(ctx context.Context, u store.User, claimed bool, now time.Time) error {
	if !claimed {
		return nil
	}
	n, err := s.sessions.RevokeSessions(ctx, u.ID, "", now)
	if err != nil {
		return fmt.Errorf("otp login: revoke sessions: %w", err)
	}
	s.record(ctx, "email.claim", u.ID, "", map[string]any{"sessions_revoked": n, "password_removed": true})
	return nil
}

// OTPCodeLogin signs in with the address and its six-digit code. Guesses
// are reserved with the same throttle as passwords (per account, per
// address and per pair), and each code dies after maxCodeAttempts wrong
// tries, so a code's 10^6 values cannot be searched.
func (s *Service) OTPCodeLogin(ctx context.Context, email, code string, c Requester) (TokenResponse, error) {
	ctx = WithRequester(ctx, c)
	if !s.opts.Mail.Passwordless {
		return TokenResponse{}, ErrPasswordlessOff
	}
	if err := required("email", email, "code", code); err != nil {
		return TokenResponse{}, err
	}
	email = attemptEmail(email)
	now := s.now().UTC()
	var u store.User
	var claimed bool
	err := s.attempt(ctx, ratelimit.Attempt{Email: email, IP: c.IP}, "otp", func() error {
		var err error
		u, claimed, err = s.matchCode(ctx, email, code, now)
		if errors.Is(err, ErrInvalidLink) {
			detail := s.auditEmail(email)
			detail["method"] = "otp"
			s.record(ctx, "login.failure", "", "", detail)
		}
		return err
	})
	if err != nil {
		return TokenResponse{}, fmt.Errorf("otp login: %w", err)
	}
	if err := s.endPreRegistered(ctx, u, claimed, now); err != nil {
		return TokenResponse{}, err
	}
	return s.linkSession(ctx, u, c, []string{"otp"}, now)
}

// matchCode spends the live sign-in token of the account whose code is
// code, or counts a wrong try. Wrong tries are counted per address, on
// the address's row in the throttle table, whether or not it has an
// account or a live code: every wrong guess then does the same work (the
// same reads and one write of one row), so its time tells neither, and a
// code dies once maxCodeAttempts wrong codes were tried at its address
// after it was sent, so that asking for several codes does not buy more
// guesses.
func (s *Service) matchCode(ctx context.Context, email, code string, now time.Time) (u store.User, claimed bool, err error) {
	if len(code) != 6 || !isDigits(code) {
		return store.User{}, false, ErrInvalidLink
	}
	misses, err := s.codeMisses(ctx, email)
	if err != nil {
		return store.User{}, false, err
	}
	owner := noUser
	u, err = s.users.GetUserByEmail(ctx, email)
	switch {
	case err == nil:
		owner = u.ID
	case !errors.Is(err, store.ErrNotFound):
		return store.User{}, false, err
	}
	toks, err := s.onetime.ListOneTimeTokens(ctx, owner, store.PurposeOTP)
	if err != nil {
		return store.User{}, false, err
	}
	for _, t := range toks {
		if owner == noUser || !s.usable(triedSince(t, misses), u, store.PurposeOTP) || !equalMAC(t.CodeHash, s.codeHash(t.ID, code)) {
			continue
		}
		_, u2, err := s.onetime.UseOneTimeToken(ctx, t.Hash, func(t *store.OneTimeToken, x *store.User) error {
			if !s.usable(triedSince(*t, misses), *x, store.PurposeOTP) {
				return ErrInvalidLink
			}
			t.UsedAt = now
			claimed = s.proveMailbox(x, now)
			return nil
		})
		if errors.Is(err, store.ErrNotFound) {
			return store.User{}, false, ErrInvalidLink
		}
		return u2, claimed, err
	}
	if _, err := s.counters.UpdateThrottle(ctx, codeKey(email), func(th *store.Throttle) error {
		th.Failures++
		th.LastFailureAt = now
		return nil
	}); err != nil {
		return store.User{}, false, err
	}
	return store.User{}, false, ErrInvalidLink
}

// codeKey names the throttle-table row that counts the wrong sign-in
// codes tried at an address.
func codeKey(email string) string { return "code:" + email }

// codeMisses is how many wrong codes were tried at the address so far.
func (s *Service) codeMisses(ctx context.Context, email string) (int, error) {
	rows, err := s.counters.GetThrottles(ctx, []string{codeKey(email)})
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	return int(rows[0].Failures), nil
}

// triedSince returns t with Attempts set to the wrong codes tried at its
// address since it was sent: a sign-in token's stored Attempts is the
// address's count of wrong codes when it was minted (see mint).
func triedSince(t store.OneTimeToken, misses int) store.OneTimeToken {
	t.Attempts = max(misses-t.Attempts, 0)
	return t
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
