package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/latchauth/latch/internal/store"
)

// mailColumns reads the optional user id as text, "" for NULL, so that it
// scans into a string.
const mailColumns = `id, kind, recipient, coalesce(user_id::text, ''), data, created_at, expires_at,
	attempts, next_attempt_at, locked_until, last_error`

func scanMail(row pgx.Row) (store.OutboxMessage, error) {
	var (
		m                                    store.OutboxMessage
		data                                 []byte
		created, expires, nextAttempt, until pgtype.Timestamptz
	)
	err := row.Scan(&m.ID, &m.Kind, &m.To, &m.UserID, &data, &created, &expires,
		&m.Attempts, &nextAttempt, &until, &m.LastError)
	if err != nil {
		return store.OutboxMessage{}, err
	}
	if data != nil {
		m.Data = json.RawMessage(data)
	}
	m.CreatedAt = fromTS(created)
	m.ExpiresAt = fromTS(expires)
	m.NextAttemptAt = fromTS(nextAttempt)
	m.LockedUntil = fromTS(until)
	return m, nil
}

// mailData is a message's data as stored (m.Check has vetted it): nil or
// empty is stored as NULL and comes back nil. The column is json, which
// keeps the text as given.
func mailData(d json.RawMessage) any {
	if len(d) == 0 {
		return nil
	}
	return d
}

// EnqueueMail inserts m and returns the id its identity column assigned.
// m.Kind and m.To must not be empty, m.CreatedAt and m.ExpiresAt not
// zero, m.UserID a UUID or empty (stored in canonical form), m.Data a JSON
// object or nil. A zero m.NextAttemptAt is stored as m.CreatedAt; m.ID,
// m.Attempts, m.LockedUntil and m.LastError are ignored. Ids come from a
// sequence, as AppendAudit's do.
func (db *DB) EnqueueMail(ctx context.Context, m store.OutboxMessage) (int64, error) {
	if err := m.Check(); err != nil {
		return 0, wrap("enqueue mail", err)
	}
	userID, err := store.OptionalID(m.UserID)
	if err != nil {
		return 0, wrap("enqueue mail: user id", err)
	}
	data := mailData(m.Data)
	next := m.NextAttemptAt
	if next.IsZero() {
		next = m.CreatedAt
	}
	var id int64
	err = db.pool.QueryRow(ctx, `INSERT INTO mail_outbox
		(kind, recipient, user_id, data, created_at, expires_at, next_attempt_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		m.Kind, m.To, userID, data, m.CreatedAt, m.ExpiresAt, next).Scan(&id)
	if err != nil {
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
	tag, err := db.pool.Exec(ctx, `UPDATE mail_outbox
		SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3, locked_until = NULL
		WHERE id = $1`,
		id, next, store.StorableText(lastErr))
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
	if _, err := db.pool.Exec(ctx, `DELETE FROM mail_outbox WHERE id = $1`, id); err != nil {
		return wrap("delete mail", err)
	}
	return nil
}

// CountMail counts the messages in the outbox, claimed or not.
func (db *DB) CountMail(ctx context.Context) (int64, error) {
	var n int64
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM mail_outbox`).Scan(&n); err != nil {
		return 0, wrap("count mail", err)
	}
	return n, nil
}
