package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/latchauth/latch/internal/password"
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
	if upd.Metadata == nil && upd.Password == nil && upd.Email == nil {
		return store.User{}, invalid("body", "nothing to change: give metadata, email, or password with current_password")
	}
	var newEmail string
	if upd.Email != nil {
		e, err := ParseEmail(*upd.Email)
		if err != nil {
			return store.User{}, err
		}
		if e == p.User.Email {
			return store.User{}, invalid("email", "is already the account's address")
		}
		newEmail = e
	}
	var meta json.RawMessage
	if upd.Metadata != nil {
		m, err := checkMetadata(upd.Metadata)
		if err != nil {
			return store.User{}, err
		}
		meta = m
	}
	current := ""
	if upd.CurrentPassword != nil {
		current = *upd.CurrentPassword
	}
	if upd.Password != nil || upd.Email != nil {
		if err := s.freshProof(ctx, p, current, upd.Password != nil); err != nil {
			return store.User{}, err
		}
	}
	var newHash string
	if upd.Password != nil {
		pw := password.Normalize(*upd.Password)
		if err := s.checkPolicy(ctx, pw, p.User.Email); err != nil {
			return store.User{}, err
		}
		var err error
		if newHash, err = s.hasher.Hash(ctx, pw); err != nil {
			return store.User{}, fmt.Errorf("update user: %w", err)
		}
	}
	now := s.now().UTC()
	u := p.User
	if meta != nil || newHash != "" {
		var err error
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
		// After the epoch moved: a sign-in that checked the old password
		// either made its session before (and this revokes it) or is
		// refused by the store.
		n, err := s.sessions.RevokeSessions(ctx, u.ID, p.Session.ID, now)
		if err != nil {
			return store.User{}, fmt.Errorf("update user: revoke other sessions: %w", err)
		}
		// The caller proved the current password: its session is
		// re-stamped with the new epoch and a fresh auth_time.
		if _, err := s.sessions.UpdateSession(ctx, p.Session.ID, func(x *store.Session) error {
			x.AuthTime, x.CredentialEpoch = now, u.CredentialEpoch
			return nil
		}); err != nil && !errors.Is(err, store.ErrNotFound) {
			return store.User{}, fmt.Errorf("update user: %w", err)
		}
		s.record(ctx, "password.change", u.ID, p.Session.ID, map[string]any{"sessions_revoked": n})
		s.notifyPasswordChanged(ctx, u, RequesterFrom(ctx).IP)
	}
	if newEmail != "" {
		if err := s.requestEmailChange(ctx, p, newEmail); err != nil {
			return store.User{}, fmt.Errorf("update user: %w", err)
		}
	}
	return u, nil
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
