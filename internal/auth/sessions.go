package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/latchauth/latch/internal/store"
	"github.com/latchauth/latch/internal/token"
)

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
		_, err = s.sessions.RevokeSessions(ctx, p.User.ID, "", now)
	case ScopeOthers:
		_, err = s.sessions.RevokeSessions(ctx, p.User.ID, p.Session.ID, now)
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
	_, err := s.sessions.UpdateSession(ctx, id, func(x *store.Session) error {
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
	all, err := s.sessions.ListSessions(ctx, p.User.ID)
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
	x, err := s.sessions.GetSession(ctx, id)
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
		sess, err := s.sessions.GetSessionByRefreshHash(ctx, hashToken(tok))
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
	sess, err := s.sessions.GetSessionByRefreshHash(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return Introspection{}, nil
	} else if err != nil {
		return Introspection{}, fmt.Errorf("introspect: %w", err)
	}
	now := s.now()
	if !s.sessionLive(sess, now) || string(sess.RefreshHash) != string(h) {
		return Introspection{}, nil
	}
	u, err := s.users.GetUser(ctx, sess.UserID)
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
