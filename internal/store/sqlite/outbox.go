package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"time"

	"github.com/latchauth/latch/internal/store"
)

// claimMailSQL leases the due messages: ?1 until, ?2 now, ?3 limit.
const claimMailSQL = `UPDATE mail_outbox SET locked_until = ?1
	WHERE id IN (
		SELECT id FROM mail_outbox
		WHERE next_attempt_at <= ?2 AND (locked_until IS NULL OR locked_until <= ?2)
		ORDER BY id LIMIT ?3)
	RETURNING ` + store.MailColumns

// ClaimMail leases up to limit due messages to the caller until until,
// oldest first; see store.Store. The BEGIN IMMEDIATE transaction holds
// SQLite's one write lock from the read to the commit, so no other claim,
// in this process or another, sees the rows before their LockedUntil is
// set.
//
// The statement is not among the prepared ones (statements): a sender
// polls every few seconds, not once per request, and those are prepared
// together, so one on a table of migration 3 would keep a database at an
// older version from serving anything before it is migrated.
func (db *DB) ClaimMail(ctx context.Context, now, until time.Time, limit int) ([]store.OutboxMessage, error) {
	if limit <= 0 {
		limit = 10
	}
	var claimed []store.OutboxMessage
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		claimed, err = queryAll(ctx, tx, codec.ScanMail, claimMailSQL, nullMicros(until), micros(now), limit)
		return err
	})
	if err != nil {
		return nil, finish("claim mail", err)
	}
	// RETURNING gives the rows in no particular order.
	slices.SortFunc(claimed, func(a, b store.OutboxMessage) int { return cmp.Compare(a.ID, b.ID) })
	return claimed, nil
}
