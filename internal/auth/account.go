package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/latchauth/latch/internal/password"
	"github.com/latchauth/latch/internal/ratelimit"
	"github.com/latchauth/latch/internal/store"
	"github.com/latchauth/latch/internal/token"
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

// ErrWrongPassword: the current password given with a change is wrong.
var ErrWrongPassword = errors.New("current password is wrong")

// ErrInsufficientAuth: the change needs a recent sign-in (RFC 9470's
// insufficient_user_authentication); the application sends the person
// through a fresh sign-in and tries again.
var ErrInsufficientAuth = errors.New("a recent sign-in is required")

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
		u, err = s.store.UpdateUser(ctx, p.User.ID, func(x *store.User) error {
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
		n, err := s.store.RevokeSessions(ctx, u.ID, p.Session.ID, now)
		if err != nil {
			return store.User{}, fmt.Errorf("update user: revoke other sessions: %w", err)
		}
		// The caller proved the current password: its session is
		// re-stamped with the new epoch and a fresh auth_time.
		if _, err := s.store.UpdateSession(ctx, p.Session.ID, func(x *store.Session) error {
			x.AuthTime, x.CredentialEpoch = now, u.CredentialEpoch
			return nil
		}); err != nil && !errors.Is(err, store.ErrNotFound) {
			return store.User{}, fmt.Errorf("update user: %w", err)
		}
		s.record(ctx, "password.change", u.ID, p.Session.ID, map[string]any{"sessions_revoked": n})
		s.notifyPasswordChanged(ctx, u, clientFrom(ctx).IP)
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
	at := ratelimit.Attempt{Email: p.User.Email, IP: clientFrom(ctx).IP}
	if err := s.reserve(ctx, at, "pwd"); err != nil {
		return fmt.Errorf("update user: %w", err)
	}
	_, ok, _, err := s.checkPassword(ctx, p.User.Email, current)
	if err != nil {
		return fmt.Errorf("update user: %w", err)
	}
	if !ok {
		s.record(ctx, "password.change.failure", p.User.ID, p.Session.ID, nil)
		return ErrWrongPassword
	}
	return s.succeed(ctx, at)
}

// Logout scopes.
const (
	ScopeLocal  = "local"
	ScopeGlobal = "global"
	ScopeOthers = "others"
)

// Logout ends the caller's session (local), every session of the user
// (global) or every other one (others).
func (s *Service) Logout(ctx context.Context, p Principal, scope string) error {
	now := s.now().UTC()
	var err error
	switch scope {
	case "", ScopeLocal:
		err = s.revokeSession(ctx, p.Session.ID, now)
	case ScopeGlobal:
		_, err = s.store.RevokeSessions(ctx, p.User.ID, "", now)
	case ScopeOthers:
		_, err = s.store.RevokeSessions(ctx, p.User.ID, p.Session.ID, now)
	default:
		return invalid("scope", `must be "local", "global" or "others"`)
	}
	if err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	if scope == "" {
		scope = ScopeLocal
	}
	s.record(ctx, "logout", p.User.ID, p.Session.ID, map[string]any{"scope": scope})
	return nil
}

func (s *Service) revokeSession(ctx context.Context, id string, now time.Time) error {
	_, err := s.store.UpdateSession(ctx, id, func(x *store.Session) error {
		if !x.RevokedAt.IsZero() {
			return errNoWrite
		}
		x.RevokedAt = now
		return nil
	})
	if errors.Is(err, errNoWrite) || errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// SessionInfo is one of the caller's sessions as the API shows it.
type SessionInfo struct {
	store.Session
	Current bool
}

// ListSessions returns the caller's live sessions, newest first.
func (s *Service) ListSessions(ctx context.Context, p Principal) ([]SessionInfo, error) {
	all, err := s.store.ListSessions(ctx, p.User.ID)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	now := s.now()
	out := make([]SessionInfo, 0, len(all))
	for _, x := range all {
		if s.sessionLive(x, now) {
			out = append(out, SessionInfo{Session: x, Current: x.ID == p.Session.ID})
		}
	}
	return out, nil
}

// RevokeSession ends one of the caller's sessions. Another user's session
// and an unknown id get the same ErrSessionNotFound.
func (s *Service) RevokeSession(ctx context.Context, p Principal, id string) error {
	if _, err := uuid.Parse(id); err != nil {
		return ErrSessionNotFound
	}
	x, err := s.store.GetSession(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (x.UserID != p.User.ID || !s.sessionLive(x, s.now()))) {
		return ErrSessionNotFound
	} else if err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	if err := s.revokeSession(ctx, id, s.now().UTC()); err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	s.record(ctx, "session.revoke", p.User.ID, id, nil)
	return nil
}

// RevokeToken implements RFC 7009: a refresh token (any of its session's
// chain) or an access token ends its session. An unknown or malformed
// token is not an error (RFC 7009 §2.2): the caller answers 200 either way.
func (s *Service) RevokeToken(ctx context.Context, tok string) error {
	if tok == "" {
		return invalid("token", "is required")
	}
	var sessionID string
	if wellFormedRefresh(tok) {
		sess, err := s.store.GetSessionByRefreshHash(ctx, hashToken(tok))
		if errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return fmt.Errorf("revoke token: %w", err)
		}
		sessionID = sess.ID
	} else {
		claims, err := s.tokens.Verify(ctx, tok)
		if errors.Is(err, token.ErrInvalidToken) {
			return nil
		} else if err != nil {
			return fmt.Errorf("revoke token: %w", err)
		}
		sessionID = claims.SessionID
	}
	if err := s.revokeSession(ctx, sessionID, s.now().UTC()); err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	s.record(ctx, "token.revoke", "", sessionID, nil)
	return nil
}

// Introspection is an RFC 7662 answer. When Active is false every other
// field is empty, so an inactive token reveals nothing (§2.2).
type Introspection struct {
	Active    bool
	TokenType string // "access_token" or "refresh_token"
	Claims    token.Claims
}

// Introspect tells whether a token is active now: an access token that
// verifies and whose session is live, or the live refresh token of a live
// session.
func (s *Service) Introspect(ctx context.Context, tok string) (Introspection, error) {
	if tok == "" {
		return Introspection{}, invalid("token", "is required")
	}
	if wellFormedRefresh(tok) {
		return s.introspectRefresh(ctx, tok)
	}
	p, err := s.Authenticate(ctx, tok)
	if errors.Is(err, ErrInvalidToken) {
		return Introspection{}, nil
	} else if err != nil {
		return Introspection{}, fmt.Errorf("introspect: %w", err)
	}
	return Introspection{Active: true, TokenType: "access_token", Claims: p.Claims}, nil
}

func (s *Service) introspectRefresh(ctx context.Context, tok string) (Introspection, error) {
	h := hashToken(tok)
	sess, err := s.store.GetSessionByRefreshHash(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return Introspection{}, nil
	} else if err != nil {
		return Introspection{}, fmt.Errorf("introspect: %w", err)
	}
	now := s.now()
	if !s.sessionLive(sess, now) || string(sess.RefreshHash) != string(h) {
		return Introspection{}, nil
	}
	u, err := s.store.GetUser(ctx, sess.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return Introspection{}, nil
	} else if err != nil {
		return Introspection{}, fmt.Errorf("introspect: %w", err)
	}
	if u.Disabled {
		return Introspection{}, nil
	}
	return Introspection{Active: true, TokenType: "refresh_token", Claims: token.Claims{
		Subject:   u.ID,
		SessionID: sess.ID,
		IssuedAt:  sess.RotatedAt,
		ExpiresAt: now.Add(s.sessionRemaining(sess, now)),
		AMR:       sess.AMR,
		AAL:       sess.AAL,
		AuthTime:  sess.AuthTime,
	}}, nil
}
