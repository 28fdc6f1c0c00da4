package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"time"

	"github.com/latchauth/latch/internal/store"
)

// mailColumns reads the optional user id as text, "" for NULL, so that it
// scans into a string.
const mailColumns = `id, kind, recipient, coalesce(user_id, ''), data, created_at, expires_at,
	attempts, next_attempt_at, locked_until, last_error`

func scanMail(row scanner) (store.OutboxMessage, error) { return store.ScanMail(codec, row) }

// EnqueueMail inserts m and returns the id SQLite assigned to it. m.Kind
// and m.To must not be empty, m.CreatedAt and m.ExpiresAt not zero,
// m.UserID a UUID or empty (stored in canonical form), m.Data a JSON
// object or nil. A zero m.NextAttemptAt is stored as m.CreatedAt; m.ID,
// m.Attempts, m.LockedUntil and m.LastError are ignored.
func (db *DB) EnqueueMail(ctx context.Context, m store.OutboxMessage) (int64, error) {
	args, err := codec.MailArgs(m)
	if err != nil {
		return 0, wrap("enqueue mail", err)
	}
	var id int64
	if err := db.scanWrite(ctx, store.EnqueueMailSQL, args, &id); err != nil {
		return 0, wrap("enqueue mail", err)
	}
	return id, nil
}

// claimMailSQL leases the due messages: ?1 until, ?2 now, ?3 limit.
const claimMailSQL = `UPDATE mail_outbox SET locked_until = ?1
	WHERE id IN (
		SELECT id FROM mail_outbox
		WHERE next_attempt_at <= ?2 AND (locked_until IS NULL OR locked_until <= ?2)
		ORDER BY id LIMIT ?3)
	RETURNING ` + mailColumns

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
		claimed, err = queryAll(ctx, tx, scanMail, claimMailSQL, nullMicros(until), micros(now), limit)
		return err
	})
	if err != nil {
		return nil, finish("claim mail", err)
	}
	// RETURNING gives the rows in no particular order.
	slices.SortFunc(claimed, func(a, b store.OutboxMessage) int { return cmp.Compare(a.ID, b.ID) })
	return claimed, nil
}

// RetryMail records a failed delivery of the message; store.ErrNotFound if
// it is gone. lastErr is stored with NUL bytes and invalid UTF-8 replaced
// by U+FFFD, as the PostgreSQL backend must.
func (db *DB) RetryMail(ctx context.Context, id int64, next time.Time, lastErr string) error {
	res, err := db.execWrite(ctx, store.RetryMailSQL, id, micros(next), store.StorableText(lastErr))
	if err != nil {
		return wrap("retry mail", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap("retry mail", err)
	}
	if n == 0 {
		return wrap("retry mail", store.ErrNotFound)
	}
	return nil
}

// DeleteMail removes the message; a missing one is not an error.
func (db *DB) DeleteMail(ctx context.Context, id int64) error {
	if _, err := db.execWrite(ctx, store.DeleteMailSQL, id); err != nil {
		return wrap("delete mail", err)
	}
	return nil
}

// CountMail counts the messages in the outbox, claimed or not.
func (db *DB) CountMail(ctx context.Context) (int64, error) {
	var n int64
	if err := db.read.QueryRowContext(ctx, store.CountMailSQL).Scan(&n); err != nil {
		return 0, wrap("count mail", err)
	}
	return n, nil
}
