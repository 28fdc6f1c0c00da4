package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/latchauth/latch/internal/store"
)

// auditColumns reads the optional ids as text, "" for NULL, so that they
// scan into strings.
const auditColumns = `id, occurred_at, type, coalesce(user_id::text, ''), coalesce(session_id::text, ''),
	ip, user_agent, detail`

func scanAudit(row pgx.Row) (store.AuditEvent, error) {
	var (
		e        store.AuditEvent
		occurred pgtype.Timestamptz
		detail   []byte
	)
	err := row.Scan(&e.ID, &occurred, &e.Type, &e.UserID, &e.SessionID, &e.IP, &e.UserAgent, &detail)
	if err != nil {
		return store.AuditEvent{}, err
	}
	e.Time = fromTS(occurred)
	if detail != nil {
		e.Detail = json.RawMessage(detail)
	}
	return e, nil
}

// AppendAudit inserts e and returns the id its identity column assigned.
// Ids come from a sequence: they increase in the order the inserts ran,
// which concurrent transactions may commit in another order, and a rolled
// back insert leaves a gap.
func (db *DB) AppendAudit(ctx context.Context, e store.AuditEvent) (int64, error) {
	userID, sessionID, checked, err := e.Checked()
	if err != nil {
		return 0, wrap("append audit", err)
	}
	var detail any
	if checked != nil {
		detail = checked
	}
	var id int64
	err = db.pool.QueryRow(ctx, `INSERT INTO audit_events
		(occurred_at, type, user_id, session_id, ip, user_agent, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		e.Time, e.Type, userID, sessionID, e.IP, e.UserAgent, detail).Scan(&id)
	if err != nil {
		return 0, wrap("append audit", err)
	}
	return id, nil
}

// ListAudit returns the events opts selects, newest first.
func (db *DB) ListAudit(ctx context.Context, opts store.ListAuditOptions) ([]store.AuditEvent, error) {
	limit := opts.PageSize()
	// Only these fixed conditions, with numbered placeholders, are joined
	// into the statement; every value travels as a parameter.
	var (
		where []string
		args  []any
	)
	cond := func(expr string, arg any) {
		args = append(args, arg)
		where = append(where, fmt.Sprintf(expr, len(args)))
	}
	if opts.Before > 0 {
		cond("id < $%d", opts.Before)
	}
	if opts.UserID != "" {
		userID, ok := store.CanonicalID(opts.UserID)
		if !ok {
			return nil, nil
		}
		cond("user_id = $%d", userID)
	}
	if opts.Type != "" {
		cond("type = $%d", opts.Type)
	}
	if !opts.Since.IsZero() {
		cond("occurred_at >= $%d", opts.Since)
	}
	query := `SELECT ` + auditColumns + ` FROM audit_events`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	args = append(args, limit)
	query += fmt.Sprintf(` ORDER BY id DESC LIMIT $%d`, len(args))

	events, err := queryAll(ctx, db.pool, scanAudit, query, args...)
	if err != nil {
		return nil, wrap("list audit", err)
	}
	if len(events) == 0 {
		return nil, nil // as the SQLite backend answers
	}
	return events, nil
}

// DeleteAuditBefore deletes, in batches (see deleteInBatches), the events
// that occurred before t.
func (db *DB) DeleteAuditBefore(ctx context.Context, t time.Time) (int64, error) {
	return db.deleteBefore(ctx, "delete audit before", `DELETE FROM audit_events WHERE id IN (
		SELECT id FROM audit_events WHERE occurred_at < $1
		LIMIT $2 FOR UPDATE SKIP LOCKED)`, t)
}
