package sqlite

import (
	"context"
	"time"
)

// The batched deletes of the tables other than sessions and throttles.
// rowid: the table's own b-tree key, the cheapest way back from the
// subquery to the rows.

// DeleteOneTimeTokensBefore deletes the tokens, used or not, that expired
// before t.
func (db *DB) DeleteOneTimeTokensBefore(ctx context.Context, t time.Time) (int64, error) {
	return db.deleteBefore(ctx, "delete one-time tokens before", `DELETE FROM one_time_tokens WHERE rowid IN (
		SELECT rowid FROM one_time_tokens WHERE expires_at < ? LIMIT ?)`, t)
}

// DeleteAuditBefore deletes the events that occurred before t.
func (db *DB) DeleteAuditBefore(ctx context.Context, t time.Time) (int64, error) {
	return db.deleteBefore(ctx, "delete audit before", `DELETE FROM audit_events WHERE id IN (
		SELECT id FROM audit_events WHERE occurred_at < ? LIMIT ?)`, t)
}

// DeleteNoncesBefore deletes the ID-token nonces that expired before t.
func (db *DB) DeleteNoncesBefore(ctx context.Context, t time.Time) (int64, error) {
	return db.deleteBefore(ctx, "delete nonces before", `DELETE FROM id_token_nonces WHERE rowid IN (
		SELECT rowid FROM id_token_nonces WHERE expires_at < ? LIMIT ?)`, t)
}

// DeletePendingFactorsBefore deletes the factors still pending that were
// created before t. Each batch holds the writer, as VerifyFactor does:
// a factor is verified before a batch reads it, or deleted before
// VerifyFactor looks for it (which then finds none).
func (db *DB) DeletePendingFactorsBefore(ctx context.Context, t time.Time) (int64, error) {
	return db.deleteBefore(ctx, "delete pending factors before", `DELETE FROM factors WHERE rowid IN (
		SELECT rowid FROM factors WHERE verified_at IS NULL AND created_at < ? LIMIT ?)`, t)
}
