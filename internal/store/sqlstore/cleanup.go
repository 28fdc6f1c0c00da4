package sqlstore

import (
	"context"
	"time"
)

// The clean-up methods of every role: each deletes the rows of one table
// that match a condition on the times it is given, in batches of at most
// Driver.CleanupBatch rows, each batch a statement (and a transaction) of
// its own built by Driver.DeleteBatchSQL. The conditions are written here
// once for both backends; how a batch picks and locks its rows is the
// driver's.

// DeleteOneTimeTokensBefore deletes the tokens, used or not, that expired
// before t.
func (s Store[T]) DeleteOneTimeTokensBefore(ctx context.Context, t time.Time) (int64, error) {
	return s.deleteBefore(ctx, "delete one-time tokens before", "one_time_tokens", "id", `expires_at < $1`, t)
}

// DeleteAuditBefore deletes the events that occurred before t.
func (s Store[T]) DeleteAuditBefore(ctx context.Context, t time.Time) (int64, error) {
	return s.deleteBefore(ctx, "delete audit before", "audit_events", "id", `occurred_at < $1`, t)
}

// DeleteNoncesBefore deletes the ID-token nonces that expired before t.
func (s Store[T]) DeleteNoncesBefore(ctx context.Context, t time.Time) (int64, error) {
	return s.deleteBefore(ctx, "delete nonces before", "id_token_nonces", "hash", `expires_at < $1`, t)
}

// DeletePendingFactorsBefore deletes the factors still pending that were
// created before t. A verified factor is never deleted, even one that
// VerifyFactor verifies while a batch runs: on PostgreSQL the batch skips
// the factor VerifyFactor holds, and the lock re-checks the condition on
// one it verified since the statement began; on SQLite each batch holds
// the writer, as VerifyFactor does, so a factor is verified before a batch
// reads it, or deleted before VerifyFactor looks for it (which then finds
// none).
func (s Store[T]) DeletePendingFactorsBefore(ctx context.Context, t time.Time) (int64, error) {
	return s.deleteBefore(ctx, "delete pending factors before", "factors", "id", `verified_at IS NULL AND created_at < $1`, t)
}

// DeleteEndedSessions deletes the sessions revoked before revokedBefore,
// expired before expiredBefore or idle since before idleBefore; the
// schema's cascade deletes their refresh tokens in the same statement.
// revoked_at < $1 is false for NULL, the live sessions.
func (s Store[T]) DeleteEndedSessions(ctx context.Context, revokedBefore, expiredBefore, idleBefore time.Time) (int64, error) {
	return s.deleteInBatches(ctx, "delete ended sessions", "sessions", "id",
		`revoked_at < $1 OR expires_at < $2 OR last_active_at < $3`,
		s.c.Time(revokedBefore), s.c.Time(expiredBefore), s.c.Time(idleBefore))
}

// DeleteThrottlesBefore deletes the throttle rows whose last failure
// (NULL: none, the zero time) and block (NULL: none) both lie before t.
func (s Store[T]) DeleteThrottlesBefore(ctx context.Context, t time.Time) (int64, error) {
	return s.deleteBefore(ctx, "delete throttles before", "throttles", "key",
		`(last_failure_at IS NULL OR last_failure_at < $1) AND (blocked_until IS NULL OR blocked_until < $1)`, t)
}

// deleteBefore runs deleteInBatches with t as the condition's $1. Nothing
// lies before the zero time, not even a NULL, so a zero t deletes
// nothing.
func (s Store[T]) deleteBefore(ctx context.Context, op, table, key, where string, t time.Time) (int64, error) {
	if t.IsZero() {
		return 0, nil
	}
	return s.deleteInBatches(ctx, op, table, key, where, s.c.Time(t))
}

// deleteInBatches deletes the rows of table that match where (a condition
// on args, $1 and on), at most Driver.CleanupBatch of them per statement,
// until a statement deletes fewer, and returns how many it deleted in
// all. Each statement commits on its own: if one fails, the earlier ones
// stay committed and are counted.
func (s Store[T]) deleteInBatches(ctx context.Context, op, table, key, where string, args ...any) (int64, error) {
	batch := s.d.CleanupBatch()
	query := s.d.DeleteBatchSQL(table, key, where, len(args)+1)
	args = append(args, batch)
	var total int64
	for {
		n, err := s.d.Write().Exec(ctx, query, args...)
		if err != nil {
			return total, s.d.Wrap(op, err)
		}
		total += n
		if n < int64(batch) {
			return total, nil
		}
	}
}
