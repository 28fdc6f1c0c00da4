package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/latchauth/latch/internal/store"
)

// The administrator's operations, used by the `latch user` commands. They
// name users by email and, unlike the public endpoints, may say that a
// user does not exist.

// CreateUser creates a user with a password that passes the policy.
func (s *Service) CreateUser(ctx context.Context, email, pw string, verified bool) (store.User, error) {
	email, err := ParseEmail(email)
	if err != nil {
		return store.User{}, err
	}
	hash, err := s.hashNewPassword(ctx, "create user", pw, email)
	if err != nil {
		return store.User{}, err
	}
	now := s.now().UTC()
	u := newUser(email, now)
	u.EmailVerified, u.PasswordHash, u.PasswordChangedAt = verified, hash, now
	if err := s.users.CreateUser(ctx, u); errors.Is(err, store.ErrAlreadyExists) {
		return store.User{}, ErrEmailTaken
	} else if err != nil {
		return store.User{}, fmt.Errorf("create user: %w", err)
	}
	s.record(ctx, "admin.user.create", u.ID, "", nil)
	return u, nil
}

// ListUsers pages through users in creation order.
func (s *Service) ListUsers(ctx context.Context, after string, limit int) ([]store.User, error) {
	return s.users.ListUsers(ctx, store.ListUsersOptions{After: after, Limit: limit})
}

// FindUser looks a user up by email or id.
func (s *Service) FindUser(ctx context.Context, emailOrID string) (store.User, error) {
	var u store.User
	var err error
	if _, perr := uuid.Parse(emailOrID); perr == nil {
		u, err = s.users.GetUser(ctx, emailOrID)
	} else {
		u, err = s.users.GetUserByEmail(ctx, NormalizeEmail(emailOrID))
	}
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, ErrUserNotFound
	}
	return u, err
}

// SetDisabled disables or enables a user. Disabling also revokes every
// session, so the user's refresh tokens die with it; access tokens are
// refused by latch at once because Authenticate checks the flag.
func (s *Service) SetDisabled(ctx context.Context, emailOrID string, disabled bool) (store.User, error) {
	now := s.now().UTC()
	u, err := s.changeUser(ctx, "set disabled", emailOrID, now, func(x *store.User) { x.Disabled = disabled })
	if err != nil {
		return store.User{}, err
	}
	if disabled {
		if _, err := s.sessions.RevokeSessions(ctx, u.ID, "", now); err != nil {
			return store.User{}, fmt.Errorf("set disabled: revoke sessions: %w", err)
		}
	}
	typ := "admin.user.enable"
	if disabled {
		typ = "admin.user.disable"
	}
	s.record(ctx, typ, u.ID, "", nil)
	return u, nil
}

// VerifyEmail marks a user's email verified: how an administrator
// confirms an address without a link (`latch user verify`).
func (s *Service) VerifyEmail(ctx context.Context, emailOrID string) (store.User, error) {
	u, err := s.changeUser(ctx, "verify email", emailOrID, s.now().UTC(), func(x *store.User) { x.EmailVerified = true })
	if err != nil {
		return store.User{}, err
	}
	s.record(ctx, "admin.user.verify", u.ID, "", nil)
	return u, nil
}

// changeUser finds the user emailOrID and applies change to them in one
// transaction, stamped updated at now; op names the command in the error
// of a failed update.
func (s *Service) changeUser(ctx context.Context, op, emailOrID string, now time.Time, change func(*store.User)) (store.User, error) {
	u, err := s.FindUser(ctx, emailOrID)
	if err != nil {
		return store.User{}, err
	}
	u, err = s.users.UpdateUser(ctx, u.ID, func(x *store.User) error {
		change(x)
		x.UpdatedAt = now
		return nil
	})
	if err != nil {
		return store.User{}, fmt.Errorf("%s: %w", op, err)
	}
	return u, nil
}

// DeleteUser removes a user with their sessions.
func (s *Service) DeleteUser(ctx context.Context, emailOrID string) error {
	u, err := s.FindUser(ctx, emailOrID)
	if err != nil {
		return err
	}
	if err := s.users.DeleteUser(ctx, u.ID); errors.Is(err, store.ErrNotFound) {
		return ErrUserNotFound
	} else if err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	s.record(ctx, "admin.user.delete", u.ID, "", map[string]any{"email": u.Email})
	return nil
}

// Invite creates an account for email with no password and mails a link
// to latch's /invite page, where the person chooses one (72 hours, once);
// the way people join while self-service sign-up is off. Inviting an
// address whose account has no password yet sends a new link; one whose
// account has a password is ErrEmailTaken.
func (s *Service) Invite(ctx context.Context, email string) (store.User, error) {
	e, err := ParseEmail(email)
	if err != nil {
		return store.User{}, err
	}
	u, err := s.users.GetUserByEmail(ctx, e)
	switch {
	case err == nil && u.PasswordHash != "":
		return store.User{}, ErrEmailTaken
	case errors.Is(err, store.ErrNotFound):
		now := s.now().UTC()
		u = newUser(e, now)
		if err := s.users.CreateUser(ctx, u); errors.Is(err, store.ErrAlreadyExists) {
			return store.User{}, ErrEmailTaken
		} else if err != nil {
			return store.User{}, fmt.Errorf("invite: %w", err)
		}
	case err != nil:
		return store.User{}, fmt.Errorf("invite: %w", err)
	}
	if err := s.enqueue(ctx, kindInvite, e, u.ID, mailData{}, InviteTTL); err != nil {
		return store.User{}, fmt.Errorf("invite: %w", err)
	}
	s.record(ctx, "user.invite", u.ID, "", nil)
	return u, nil
}
