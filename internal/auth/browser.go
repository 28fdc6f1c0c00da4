package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/latchauth/latch/internal/store"
)

// The browser session: latch's own cookie, naming a server-side session
// of kind SessionBrowser. A person signs in on latch's pages once; every
// application then gets an app session made from it (authcode.go)
// without a password, while it lives. Its secret is stored only hashed,
// like a refresh token, and never rotates: a new sign-in makes a new
// session (and a new secret), so a secret planted in a browser before the
// sign-in is worth nothing after it.

// browserPrefix marks a browser session's secret.
const browserPrefix = "lbs_"

func newBrowserSecret() string {
	var b [32]byte
	rand.Read(b[:]) // never fails: crypto/rand.Read panics rather than return short
	return browserPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

func wellFormedBrowserSecret(s string) bool {
	if len(s) != len(browserPrefix)+43 || s[:len(browserPrefix)] != browserPrefix {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s[len(browserPrefix):])
	return err == nil
}

// ErrNoBrowserSession: the cookie names no live browser session.
var ErrNoBrowserSession = errors.New("auth: no live browser session")

// touchEvery is how stale a browser session's LastActiveAt may get before
// a request writes it again: the idle timeout counts in days, so a write
// per page view would buy nothing.
const touchEvery = time.Minute

// BrowserSession finds the live browser session a cookie secret names,
// with its user; ErrNoBrowserSession if there is none (unknown, ended,
// expired, idle too long, or its user disabled). Use keeps it from going
// idle.
func (s *Service) BrowserSession(ctx context.Context, secret string) (Principal, error) {
	if !wellFormedBrowserSecret(secret) {
		return Principal{}, ErrNoBrowserSession
	}
	sess, err := s.sessions.GetSessionByRefreshHash(ctx, hashToken(secret))
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, ErrNoBrowserSession
	} else if err != nil {
		return Principal{}, fmt.Errorf("browser session: %w", err)
	}
	sess, u, err := s.sessions.GetSessionWithUser(ctx, sess.ID)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, ErrNoBrowserSession
	} else if err != nil {
		return Principal{}, fmt.Errorf("browser session: %w", err)
	}
	now := s.now()
	if sess.Kind != store.SessionBrowser || !s.sessionLive(sess, now) || u.Disabled {
		return Principal{}, ErrNoBrowserSession
	}
	if now.Sub(sess.LastActiveAt) >= touchEvery {
		sess, err = s.sessions.UpdateSession(ctx, sess.ID, func(x *store.Session) error {
			x.LastActiveAt = now.UTC()
			return nil
		})
		if err != nil {
			return Principal{}, fmt.Errorf("browser session: %w", err)
		}
	}
	return Principal{Session: sess, User: u}, nil
}

// EndBrowserSession ends the browser session a cookie secret names, if
// any: what signing out of latch's pages, or signing in again over an
// older session, does. Its app sessions live on (only a global sign-out
// ends them).
func (s *Service) EndBrowserSession(ctx context.Context, secret string) error {
	if !wellFormedBrowserSecret(secret) {
		return nil
	}
	sess, err := s.sessions.GetSessionByRefreshHash(ctx, hashToken(secret))
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return fmt.Errorf("end browser session: %w", err)
	}
	if sess.Kind != store.SessionBrowser {
		return nil
	}
	if err := s.revokeSession(ctx, sess.ID, s.now().UTC()); err != nil {
		return fmt.Errorf("end browser session: %w", err)
	}
	s.record(ctx, "logout", sess.UserID, sess.ID, map[string]any{"scope": ScopeLocal, "kind": string(store.SessionBrowser)})
	return nil
}

// SignedInWithin reports whether the session's holder proved a
// credential within d (OpenID Connect's max_age, measured in whole
// seconds as auth_time is). A session from an email link alone never
// did.
func (s *Service) SignedInWithin(p Principal, d time.Duration) bool {
	at := p.Session.AuthTime
	return !at.IsZero() && s.now().Truncate(time.Second).Sub(at.Truncate(time.Second)) <= d
}
