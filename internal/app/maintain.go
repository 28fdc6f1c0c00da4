package app

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Maintain removes ended sessions, old throttle counters, expired
// one-time tokens and expired audit events every LATCH_CLEANUP_INTERVAL,
// and samples the number of active sessions and of waiting messages, until
// ctx is done. Every instance may run it: the deletes are idempotent and
// batched.
func (a *Latch) Maintain(ctx context.Context, active, outbox prometheus.Gauge) {
	t := time.NewTicker(a.Config.Ops.CleanupInterval)
	defer t.Stop()
	for {
		if n, err := a.Auth.ActiveSessions(ctx); err == nil {
			active.Set(float64(n))
		}
		if n, err := a.DB.CountMail(ctx); err == nil {
			outbox.Set(float64(n))
		}
		// Each package cleans its own tables.
		c, err := a.Auth.Cleanup(ctx)
		throttles, err2 := a.Limit.Cleanup(ctx)
		events, err3 := a.Audit.Prune(ctx, a.Config.Ops.AuditRetention)
		switch err := errors.Join(err, err2, err3); {
		case err != nil && ctx.Err() == nil:
			a.Log.Warn("clean-up failed; will retry", "event", "cleanup.error", "error", err)
		case c.Sessions+throttles+events+c.OneTimeTokens > 0:
			a.Log.Info("cleaned up", "event", "cleanup", "sessions", c.Sessions, "throttles", throttles, "audit_events", events, "one_time_tokens", c.OneTimeTokens)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
