package postgres

import (
	"context"
	"time"
)

// The batched deletes of the tables other than sessions and throttles.
// Each picks its rows with FOR UPDATE SKIP LOCKED (see deleteInBatches):
// a row that another transaction holds right now is left for the next
// clean-up.

// DeleteOneTimeTokensBefore deletes the tokens, used or not, that expired
// before t.
func (db *DB) DeleteOneTimeTokensBefore(ctx context.Context, t time.Time) (int64, error) {
	return db.deleteBefore(ctx, "delete one-time tokens before", `DELETE FROM one_time_tokens WHERE id IN (
		SELECT id FROM one_time_tokens WHERE expires_at < $1
		LIMIT $2 FOR UPDATE SKIP LOCKED)`, t)
}

// DeleteAuditBefore deletes the events that occurred before t.
func (db *DB) DeleteAuditBefore(ctx context.Context, t time.Time) (int64, error) {
	return db.deleteBefore(ctx, "delete audit before", `DELETE FROM audit_events WHERE id IN (
		SELECT id FROM audit_events WHERE occurred_at < $1
		LIMIT $2 FOR UPDATE SKIP LOCKED)`, t)
}

// DeleteNoncesBefore deletes the ID-token nonces that expired before t.
func (db *DB) DeleteNoncesBefore(ctx context.Context, t time.Time) (int64, error) {
	return db.deleteBefore(ctx, "delete nonces before", `DELETE FROM id_token_nonces WHERE hash IN (
		SELECT hash FROM id_token_nonces WHERE expires_at < $1
		LIMIT $2 FOR UPDATE SKIP LOCKED)`, t)
}

// DeletePendingFactorsBefore deletes the factors still pending that were
// created before t. A factor that VerifyFactor holds is skipped; one it
// verified since the statement began fails the WHERE clause that the lock
// re-checks, so a verified factor is never deleted.
func (db *DB) DeletePendingFactorsBefore(ctx context.Context, t time.Time) (int64, error) {
	return db.deleteBefore(ctx, "delete pending factors before", `DELETE FROM factors WHERE id IN (
		SELECT id FROM factors WHERE verified_at IS NULL AND created_at < $1
		LIMIT $2 FOR UPDATE SKIP LOCKED)`, t)
}
