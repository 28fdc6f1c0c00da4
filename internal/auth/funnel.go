package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/latchauth/latch/internal/store"
	"github.com/latchauth/latch/internal/token"
)

// The sign-in funnel. Every way of signing in (password, emailed code or
// link, and the methods to come) identifies the person its own way and
// then calls openSession, which starts the session under the user's
// credential epoch, with its amr, aal and auth_time, and issues the
// tokens. A new sign-in method is a new file that ends in openSession; it
// never creates a session or issues a token itself.

// openSession starts a session for u, who has just been identified, and
// issues its tokens and a device token: the one place a sign-in ends.
// stale is the error to answer when a credential change overtook the
// identification (the store refuses the session).
func (s *Service) openSession(ctx context.Context, u store.User, c Requester, amr []string, authTime time.Time, device string, stale error) (TokenResponse, error) {
	sess, rt := s.newSession(u, c, amr, authTime)
	err := s.sessions.CreateSession(ctx, sess)
	switch {
	case errors.Is(err, store.ErrStale):
		s.record(ctx, "login.stale", u.ID, "", map[string]any{"method": amr[0]})
		return TokenResponse{}, stale
	case err != nil:
		return TokenResponse{}, fmt.Errorf("sign in: create session: %w", err)
	}
	detail := map[string]any(nil)
	if amr[0] != "pwd" {
		detail = map[string]any{"method": amr[0]}
	}
	s.record(ctx, "login.success", u.ID, sess.ID, detail)
	tr, err := s.issue(u, sess, rt)
	if err != nil {
		return TokenResponse{}, err
	}
	tr.DeviceToken = s.newDeviceToken(u.ID, device)
	return tr, nil
}

// newSession is a session of u, made under u's credential epoch (so that
// the store refuses it if a credential change has overtaken the check
// that led here). authTime is when the person proved a credential for
// it: now for a password or a code, zero for an email link.
func (s *Service) newSession(u store.User, c Requester, amr []string, authTime time.Time) (store.Session, string) {
	now := s.now().UTC()
	rt := newRefreshToken()
	return store.Session{
		ID:              uuid.Must(uuid.NewV7()).String(),
		UserID:          u.ID,
		CreatedAt:       now,
		LastActiveAt:    now,
		ExpiresAt:       now.Add(s.opts.SessionMaxAge),
		UserAgent:       truncate(strings.ReplaceAll(strings.ToValidUTF8(c.UserAgent, "\uFFFD"), "\x00", ""), 512),
		IP:              c.IP,
		AMR:             amr,
		AAL:             "aal1",
		AuthTime:        authTime,
		CredentialEpoch: u.CredentialEpoch,
		RefreshHash:     hashToken(rt),
		RotatedAt:       now,
	}, rt
}

// recentAuth is how recent a credential proof must be for a change that
// needs one and is not given the current password ("a recent sign-in").
const recentAuth = 5 * time.Minute

// recent reports whether the session proved a credential within
// recentAuth.
func (s *Service) recent(sess store.Session) bool {
	return !sess.AuthTime.IsZero() && s.now().Sub(sess.AuthTime) <= recentAuth
}

// issue signs an access token for the user's session.
func (s *Service) issue(u store.User, sess store.Session, refresh string) (TokenResponse, error) {
	raw, claims, err := s.tokens.Issue(token.Claims{
		Subject:       u.ID,
		SessionID:     sess.ID,
		AMR:           sess.AMR,
		AAL:           sess.AAL,
		AuthTime:      sess.AuthTime,
		Email:         u.Email,
		EmailVerified: u.EmailVerified,
	})
	if err != nil {
		return TokenResponse{}, fmt.Errorf("issue access token: %w", err)
	}
	return TokenResponse{
		AccessToken:  raw,
		ExpiresIn:    int64(claims.ExpiresAt.Sub(claims.IssuedAt).Round(time.Second) / time.Second),
		RefreshToken: refresh,
		User:         u,
		Claims:       claims,
	}, nil
}
