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

// throttleMemory is the longest window any throttle rule remembers
// failures for; older rows carry no information.
const throttleMemory = 25 * time.Hour

// Cleaned counts what one clean-up removed.
type Cleaned struct {
	Sessions, Throttles, AuditEvents, OneTimeTokens int64
}

// Cleanup removes sessions ended more than a week ago (revoked, expired
// or idle), throttle counters past every window, and audit events older
// than auditRetention (0 keeps them forever), and one-time tokens that
// expired a day ago, so that no table grows without bound. The outbox
// needs no clean-up: every message is deleted once sent or expired.
func (s *Service) Cleanup(ctx context.Context, auditRetention time.Duration) (Cleaned, error) {
	now := s.now().UTC()
	var c Cleaned
	var err error
	cut := now.Add(-keepEnded)
	if c.Sessions, err = s.store.DeleteEndedSessions(ctx, cut, cut, cut.Add(-s.opts.SessionIdleTimeout)); err != nil {
		return c, fmt.Errorf("clean up sessions: %w", err)
	}
	if c.Throttles, err = s.store.DeleteThrottlesBefore(ctx, now.Add(-throttleMemory)); err != nil {
		return c, fmt.Errorf("clean up throttles: %w", err)
	}
	if c.OneTimeTokens, err = s.store.DeleteOneTimeTokensBefore(ctx, now.Add(-24*time.Hour)); err != nil {
		return c, fmt.Errorf("clean up one-time tokens: %w", err)
	}
	if auditRetention > 0 {
		if c.AuditEvents, err = s.store.DeleteAuditBefore(ctx, now.Add(-auditRetention)); err != nil {
			return c, fmt.Errorf("clean up audit events: %w", err)
		}
	}
	return c, nil
}

// ActiveSessions counts the sessions that can be used now.
func (s *Service) ActiveSessions(ctx context.Context) (int64, error) {
	now := s.now().UTC()
	return s.store.CountActiveSessions(ctx, now, now.Add(-s.opts.SessionIdleTimeout))
}
