package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/latchauth/latch/internal/ratelimit"
	"github.com/latchauth/latch/internal/store"
)

// UserUpdate is a change a user makes to their own account. Nil fields
// are left alone.
type UserUpdate struct {
	Metadata        json.RawMessage
	Password        *string
	CurrentPassword *string
	// Email asks to move the account to a new address: a link goes to
	// it and a notice to the old one; the change waits for the link.
	Email *string
}

// UpdateUser changes the caller's metadata and/or password, and asks for
// an email change. A change of password or email needs a fresh proof
// (OWASP ASVS 5.0 V6.2.3, V6.4): the current password in the same request
// when the user has one, else a sign-in within the last five minutes by
// the session's auth_time. A password change passes the same policy as
// signup, ends every other session of the user, re-stamps the caller's
// and tells the owner by mail; an email change happens only when the
// link sent to the new address is followed.
func (s *Service) UpdateUser(ctx context.Context, p Principal, upd UserUpdate) (store.User, error) {
	newEmail, meta, err := upd.check(p.User)
	if err != nil {
		return store.User{}, err
	}
	if upd.Password != nil || upd.Email != nil {
		if err := s.needLevel(ctx, p); err != nil {
			return store.User{}, err
		}
		current := ""
		if upd.CurrentPassword != nil {
			current = *upd.CurrentPassword
		}
		if err := s.freshProof(ctx, p, current, upd.Password != nil); err != nil {
			return store.User{}, err
		}
	}
	var newHash string
	if upd.Password != nil {
		if newHash, err = s.hashNewPassword(ctx, "update user", *upd.Password, p.User.Email); err != nil {
			return store.User{}, err
		}
	}
	now := s.now().UTC()
	u := p.User
	if meta != nil || newHash != "" {
		u, err = s.users.UpdateUser(ctx, p.User.ID, func(x *store.User) error {
			if meta != nil {
				x.Metadata = meta
			}
			if newHash != "" {
				x.PasswordHash = newHash
				x.PasswordChangedAt = now
				x.CredentialEpoch++
			}
			x.UpdatedAt = now
			return nil
		})
		if err != nil {
			return store.User{}, fmt.Errorf("update user: %w", err)
		}
	}
	if newHash != "" {
		if err := s.passwordChanged(ctx, p, u, now); err != nil {
			return store.User{}, err
		}
	}
	if newEmail != "" {
		if err := s.requestEmailChange(ctx, p, newEmail); err != nil {
			return store.User{}, fmt.Errorf("update user: %w", err)
		}
	}
	return u, nil
}

// check validates a change of the user u's own account and returns the
// new address (normalised, "" for none) and metadata (nil for none).
func (upd UserUpdate) check(u store.User) (newEmail string, meta json.RawMessage, err error) {
	if upd.Metadata == nil && upd.Password == nil && upd.Email == nil {
		return "", nil, invalid("body", "nothing to change: give metadata, email, or password with current_password")
	}
	if upd.Email != nil {
		if newEmail, err = ParseEmail(*upd.Email); err != nil {
			return "", nil, err
		}
		if newEmail == u.Email {
			return "", nil, invalid("email", "is already the account's address")
		}
	}
	if upd.Metadata != nil {
		if meta, err = checkMetadata(upd.Metadata); err != nil {
			return "", nil, err
		}
	}
	return newEmail, meta, nil
}

// passwordChanged follows a password change the caller p made: every
// other session ends, the caller's is re-stamped, and the owner is told.
func (s *Service) passwordChanged(ctx context.Context, p Principal, u store.User, now time.Time) error {
	// After the epoch moved: a sign-in that checked the old password
	// either made its session before (and this revokes it) or is refused
	// by the store.
	n, err := s.sessions.RevokeSessions(ctx, u.ID, p.Session.ID, now)
	if err != nil {
		return fmt.Errorf("update user: revoke other sessions: %w", err)
	}
	// The caller proved the current password: its session is re-stamped
	// with the new epoch and a fresh auth_time.
	if _, err := s.sessions.UpdateSession(ctx, p.Session.ID, func(x *store.Session) error {
		x.AuthTime, x.CredentialEpoch = now, u.CredentialEpoch
		return nil
	}); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("update user: %w", err)
	}
	s.record(ctx, "password.change", u.ID, p.Session.ID, map[string]any{"sessions_revoked": n})
	s.notifyPasswordChanged(ctx, u, RequesterFrom(ctx).IP)
	return nil
}

// freshProof checks the proof a sensitive change needs: the current
// password, throttled like a sign-in, when the user has one; else a
// recent sign-in (ErrInsufficientAuth). settingPassword names the change
// in the error a user with a password gets without one.
func (s *Service) freshProof(ctx context.Context, p Principal, current string, settingPassword bool) error {
	if p.User.PasswordHash == "" {
		if !s.recent(p.Session) {
			return ErrInsufficientAuth
		}
		return nil
	}
	if current == "" {
		what := "the email"
		if settingPassword {
			what = "the password"
		}
		return invalid("current_password", "is required to change "+what)
	}
	at := ratelimit.Attempt{Email: p.User.Email, IP: RequesterFrom(ctx).IP}
	return s.attempt(ctx, at, "pwd", func() error {
		_, ok, _, err := s.checkPassword(ctx, p.User.Email, current)
		if err != nil || ok {
			return err
		}
		s.record(ctx, "password.change.failure", p.User.ID, p.Session.ID, nil)
		return ErrWrongPassword
	})
}
