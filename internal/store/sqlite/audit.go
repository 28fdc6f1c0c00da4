package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"github.com/latchauth/latch/internal/store"
)

const auditColumns = `id, occurred_at, type, user_id, session_id, ip, user_agent, detail`

func scanAudit(row scanner) (store.AuditEvent, error) {
	var (
		e                         store.AuditEvent
		occurred                  sql.NullInt64
		userID, sessionID, detail sql.NullString
	)
	err := row.Scan(&e.ID, &occurred, &e.Type, &userID, &sessionID, &e.IP, &e.UserAgent, &detail)
	if err != nil {
		return store.AuditEvent{}, err
	}
	e.Time = fromMicros(occurred)
	e.UserID = userID.String
	e.SessionID = sessionID.String
	if detail.Valid {
		e.Detail = json.RawMessage(detail.String)
	}
	return e, nil
}

// AppendAudit inserts e and returns the id SQLite assigned to it.
func (db *DB) AppendAudit(ctx context.Context, e store.AuditEvent) (int64, error) {
	userID, sessionID, checked, err := e.Checked()
	if err != nil {
		return 0, wrap("append audit", err)
	}
	var detail any
	if checked != nil {
		detail = string(checked)
	}
	var id int64
	err = db.scanWrite(ctx, `INSERT INTO audit_events
		(occurred_at, type, user_id, session_id, ip, user_agent, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		[]any{micros(e.Time), e.Type, userID, sessionID, e.IP, e.UserAgent, detail}, &id)
	if err != nil {
		return 0, wrap("append audit", err)
	}
	return id, nil
}

// ListAudit returns the events opts selects, newest first.
func (db *DB) ListAudit(ctx context.Context, opts store.ListAuditOptions) ([]store.AuditEvent, error) {
	limit := opts.PageSize()
	// Only these fixed conditions are joined into the statement; every
	// value travels as a parameter.
	var (
		where []string
		args  []any
	)
	if opts.Before > 0 {
		where = append(where, "id < ?")
		args = append(args, opts.Before)
	}
	if opts.UserID != "" {
		userID, ok := store.CanonicalID(opts.UserID)
		if !ok {
			return nil, nil
		}
		where = append(where, "user_id = ?")
		args = append(args, userID)
	}
	if opts.Type != "" {
		where = append(where, "type = ?")
		args = append(args, opts.Type)
	}
	if !opts.Since.IsZero() {
		where = append(where, "occurred_at >= ?")
		args = append(args, micros(opts.Since))
	}
	query := `SELECT ` + auditColumns + ` FROM audit_events`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)

	events, err := queryAll(ctx, db.read, scanAudit, query, args...)
	if err != nil {
		return nil, wrap("list audit", err)
	}
	return events, nil
}

// DeleteAuditBefore deletes, in batches (see deleteInBatches), the events
// that occurred before t.
func (db *DB) DeleteAuditBefore(ctx context.Context, t time.Time) (int64, error) {
	return db.deleteBefore(ctx, "delete audit before", `DELETE FROM audit_events WHERE id IN (
		SELECT id FROM audit_events WHERE occurred_at < ? LIMIT ?)`, t)
}
