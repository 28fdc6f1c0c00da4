package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/latchauth/latch/internal/store"
)

// errNoWrite aborts an UpdateSession whose decision needs no write.
var errNoWrite = errors.New("no write needed")

// refreshOutcome is what presenting a refresh token to its session comes
// to.
type refreshOutcome int

const (
	refreshRefused refreshOutcome = iota // session ended or user disabled
	refreshRotated                       // the live token: replaced by its successor
	refreshGrace                         // the parent, within the grace window: the same successor again
	refreshReused                        // any other earlier token: the session is revoked
)

// judgeRefresh decides what presenting the token with hash h (whose
// successor has hash next) to session x of user u at now comes to.
func (s *Service) judgeRefresh(x store.Session, u store.User, h, next []byte, now time.Time) refreshOutcome {
	switch {
	case u.Disabled || !s.sessionLive(x, now):
		return refreshRefused
	case bytes.Equal(h, x.RefreshHash):
		return refreshRotated
	case bytes.Equal(h, x.ParentHash) && bytes.Equal(next, x.RefreshHash) && now.Sub(x.RotatedAt) <= s.opts.RefreshReuseGrace:
		return refreshGrace
	default:
		return refreshReused
	}
}

// Refresh rotates a refresh token: the presented token must be the
// session's live one, which is replaced by its successor. Presenting the
// immediate parent of the live token within the grace window returns the
// same successor again (two tabs refreshing at once); presenting any other
// earlier token is re-use, which revokes the whole session (RFC 9700
// §4.14.2).
func (s *Service) Refresh(ctx context.Context, presented string, c Requester) (TokenResponse, error) {
	ctx = WithRequester(ctx, c)
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
	// slip in between a read and the write. The decision is a value; only
	// a rotation and a revocation write.
	var (
		sess    store.Session
		u       store.User
		outcome = refreshRefused
	)
	updated, _, err := s.sessions.UpdateSessionByRefreshHash(ctx, h, func(x *store.Session, user store.User) error {
		sess, u = *x, user
		now := s.now().UTC()
		outcome = s.judgeRefresh(*x, user, h, nextHash, now)
		switch outcome {
		case refreshRotated:
			x.ParentHash, x.RefreshHash = x.RefreshHash, nextHash
			x.RotatedAt, x.LastActiveAt = now, now
			x.Generation++
			return nil
		case refreshReused:
			x.RevokedAt = now
			return nil
		default:
			return errNoWrite
		}
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return TokenResponse{}, ErrInvalidGrant
	case err != nil && !errors.Is(err, errNoWrite):
		return TokenResponse{}, fmt.Errorf("refresh: %w", err)
	}
	switch outcome {
	case refreshRotated:
		s.audit.Count("refresh.rotate")
		return s.issue(u, updated, next)
	case refreshGrace:
		// Nothing was written; the session read in the transaction
		// carries the same id and claims.
		s.audit.Count("refresh.grace")
		return s.issue(u, sess, next)
	case refreshReused:
		s.record(ctx, "refresh.reuse", u.ID, sess.ID, map[string]any{"session_revoked": true})
	}
	return TokenResponse{}, ErrInvalidGrant
}

// sessionRemaining is how long a live session can still be refreshed.
func (s *Service) sessionRemaining(sess store.Session, now time.Time) time.Duration {
	end := sess.ExpiresAt
	if idle := sess.LastActiveAt.Add(s.opts.SessionIdleTimeout); idle.Before(end) {
		end = idle
	}
	return end.Sub(now)
}

// refreshPrefix marks latch refresh tokens so that secret scanners can
// recognise a leaked one.
const refreshPrefix = "lrt_"

// refreshLen is the length of a refresh token: the prefix and 32 bytes
// (256 bits) in unpadded base64url.
var refreshLen = len(refreshPrefix) + base64.RawURLEncoding.EncodedLen(32)

func newRefreshToken() string {
	var b [32]byte
	rand.Read(b[:]) // never fails: crypto/rand.Read panics rather than return short
	return refreshPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// successor derives the refresh token that replaces parent. Deriving it
// with a MAC under the server secret, instead of drawing it at random,
// lets a second request that presents the same parent inside the grace
// window receive the very same successor without latch ever storing a
// refresh token in clear: only hashes are stored, and only a holder of the
// parent and the server secret can compute the child.
func (s *Service) successor(parent string) string {
	return refreshPrefix + base64.RawURLEncoding.EncodeToString(s.mac.MAC("refresh-token successor", []byte(parent)))
}

// wellFormedRefresh rejects anything that cannot be a refresh token before
// touching the database.
func wellFormedRefresh(t string) bool {
	if len(t) != refreshLen || !strings.HasPrefix(t, refreshPrefix) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(t[len(refreshPrefix):])
	return err == nil
}
