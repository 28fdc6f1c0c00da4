package postgres

import (
	"context"
	"time"

	"github.com/latchauth/latch/internal/store"
)

// ClaimMail leases up to limit due messages to the caller until until,
// oldest first; see store.Store.
//
// The inner SELECT locks the rows it picks (FOR UPDATE) and skips those
// another claim has locked (SKIP LOCKED), so that instances polling at
// once share the due messages out instead of queueing on the same ones.
// Under READ COMMITTED the lock re-checks the WHERE clause on the row's
// latest version: a message that another claim leased since the statement
// began no longer qualifies and is not returned twice. A row skipped that
// way is being claimed by the other caller, so nothing due is left out for
// good; a claim may return fewer than limit while others run.
func (db *DB) ClaimMail(ctx context.Context, now, until time.Time, limit int) ([]store.OutboxMessage, error) {
	if limit <= 0 {
		limit = 10
	}
	claimed, err := queryAll(ctx, db.pool, codec.ScanMail, `WITH claimed AS (
			UPDATE mail_outbox SET locked_until = $1
			WHERE id IN (
				SELECT id FROM mail_outbox
				WHERE next_attempt_at <= $2 AND (locked_until IS NULL OR locked_until <= $2)
				ORDER BY id LIMIT $3
				FOR UPDATE SKIP LOCKED)
			RETURNING *)
		SELECT `+store.MailColumns+` FROM claimed ORDER BY id`,
		nullTime(until), now, limit)
	if err != nil {
		return nil, wrap("claim mail", err)
	}
	if len(claimed) == 0 {
		return nil, nil // as the SQLite backend answers
	}
	return claimed, nil
}
