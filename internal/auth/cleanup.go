package auth

import (
	"context"
	"fmt"
	"time"
)

// keepEnded is how long an ended session is kept before clean-up removes
// it: while it exists, its old refresh tokens are recognised as re-use
// (and logged) instead of as unknown.
const keepEnded = 7 * 24 * time.Hour

// Cleaned counts what one clean-up removed.
type Cleaned struct {
	Sessions, OneTimeTokens, Nonces, PendingFactors int64
}

// Cleanup removes sessions ended more than a week ago (revoked, expired
// or idle), one-time tokens that expired a day ago and the used nonces of
// provider flows and ID tokens that expired, and enrolments of factors
// never finished, so that none
// table grows without bound. The throttler and the audit recorder clean
// their own tables; the outbox needs no clean-up, since every message is
// deleted once sent or expired.
func (s *Service) Cleanup(ctx context.Context) (Cleaned, error) {
	now := s.now().UTC()
	var c Cleaned
	var err error
	cut := now.Add(-keepEnded)
	if c.Sessions, err = s.sessions.DeleteEndedSessions(ctx, cut, cut, cut.Add(-s.opts.SessionIdleTimeout)); err != nil {
		return c, fmt.Errorf("clean up sessions: %w", err)
	}
	if c.OneTimeTokens, err = s.onetime.DeleteOneTimeTokensBefore(ctx, now.Add(-24*time.Hour)); err != nil {
		return c, fmt.Errorf("clean up one-time tokens: %w", err)
	}
	if c.Nonces, err = s.identities.DeleteNoncesBefore(ctx, now); err != nil {
		return c, fmt.Errorf("clean up used nonces: %w", err)
	}
	if s.factors != nil {
		if c.PendingFactors, err = s.factors.DeletePendingFactorsBefore(ctx, now.Add(-pendingTTL)); err != nil {
			return c, fmt.Errorf("clean up pending factors: %w", err)
		}
	}
	return c, nil
}

// ActiveSessions counts the sessions that can be used now.
func (s *Service) ActiveSessions(ctx context.Context) (int64, error) {
	now := s.now().UTC()
	return s.sessions.CountActiveSessions(ctx, now, now.Add(-s.opts.SessionIdleTimeout))
}
