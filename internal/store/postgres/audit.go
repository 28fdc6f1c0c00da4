package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchauth/latch/internal/store"
)

// auditColumns reads the optional ids as text, "" for NULL, so that they
// scan into strings.
const auditColumns = `id, occurred_at, type, coalesce(user_id::text, ''), coalesce(session_id::text, ''),
	ip, user_agent, detail`

func scanAudit(row pgx.Row) (store.AuditEvent, error) { return store.ScanAudit(codec, row) }

// AppendAudit inserts e and returns the id its identity column assigned.
// Ids come from a sequence: they increase in the order the inserts ran,
// which concurrent transactions may commit in another order, and a rolled
// back insert leaves a gap.
func (db *DB) AppendAudit(ctx context.Context, e store.AuditEvent) (int64, error) {
	args, err := codec.AuditArgs(e)
	if err != nil {
		return 0, wrap("append audit", err)
	}
	var id int64
	if err := db.pool.QueryRow(ctx, store.AppendAuditSQL, args...).Scan(&id); err != nil {
		return 0, wrap("append audit", err)
	}
	return id, nil
}

// ListAudit returns the events opts selects, newest first.
func (db *DB) ListAudit(ctx context.Context, opts store.ListAuditOptions) ([]store.AuditEvent, error) {
	query, args, ok := codec.ListAuditQuery(opts, auditColumns)
	if !ok {
		return nil, nil
	}
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
