package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchauth/latch/internal/store"
)

// mailColumns reads the optional user id as text, "" for NULL, so that it
// scans into a string.
const mailColumns = `id, kind, recipient, coalesce(user_id::text, ''), data, created_at, expires_at,
	attempts, next_attempt_at, locked_until, last_error`

func scanMail(row pgx.Row) (store.OutboxMessage, error) { return store.ScanMail(codec, row) }

// EnqueueMail inserts m and returns the id its identity column assigned.
// m.Kind and m.To must not be empty, m.CreatedAt and m.ExpiresAt not
// zero, m.UserID a UUID or empty (stored in canonical form), m.Data a JSON
// object or nil. A zero m.NextAttemptAt is stored as m.CreatedAt; m.ID,
// m.Attempts, m.LockedUntil and m.LastError are ignored. Ids come from a
// sequence, as AppendAudit's do.
func (db *DB) EnqueueMail(ctx context.Context, m store.OutboxMessage) (int64, error) {
	args, err := codec.MailArgs(m)
	if err != nil {
		return 0, wrap("enqueue mail", err)
	}
	var id int64
	if err := db.pool.QueryRow(ctx, store.EnqueueMailSQL, args...).Scan(&id); err != nil {
		return 0, wrap("enqueue mail", err)
	}
	return id, nil
}

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
	claimed, err := queryAll(ctx, db.pool, scanMail, `WITH claimed AS (
			UPDATE mail_outbox SET locked_until = $1
			WHERE id IN (
				SELECT id FROM mail_outbox
				WHERE next_attempt_at <= $2 AND (locked_until IS NULL OR locked_until <= $2)
				ORDER BY id LIMIT $3
				FOR UPDATE SKIP LOCKED)
			RETURNING *)
		SELECT `+mailColumns+` FROM claimed ORDER BY id`,
		nullTime(until), now, limit)
	if err != nil {
		return nil, wrap("claim mail", err)
	}
	if len(claimed) == 0 {
		return nil, nil // as the SQLite backend answers
	}
	return claimed, nil
}

// RetryMail records a failed delivery of the message; store.ErrNotFound if
// it is gone. lastErr is stored with NUL bytes and invalid UTF-8 replaced
// by U+FFFD (see store.StorableText).
func (db *DB) RetryMail(ctx context.Context, id int64, next time.Time, lastErr string) error {
	tag, err := db.pool.Exec(ctx, store.RetryMailSQL, id, next, store.StorableText(lastErr))
	if err != nil {
		return wrap("retry mail", err)
	}
	if tag.RowsAffected() == 0 {
		return wrap("retry mail", store.ErrNotFound)
	}
	return nil
}

// DeleteMail removes the message; a missing one is not an error.
func (db *DB) DeleteMail(ctx context.Context, id int64) error {
	if _, err := db.pool.Exec(ctx, store.DeleteMailSQL, id); err != nil {
		return wrap("delete mail", err)
	}
	return nil
}

// CountMail counts the messages in the outbox, claimed or not.
func (db *DB) CountMail(ctx context.Context) (int64, error) {
	var n int64
	if err := db.pool.QueryRow(ctx, store.CountMailSQL).Scan(&n); err != nil {
		return 0, wrap("count mail", err)
	}
	return n, nil
}
