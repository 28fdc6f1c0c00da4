package sqlite

import (
	"context"
	"time"

	"github.com/latchauth/latch/internal/store"
)

// auditColumns reads the optional ids as text, "" for NULL, so that they
// scan into strings.
const auditColumns = `id, occurred_at, type, coalesce(user_id, ''), coalesce(session_id, ''),
	ip, user_agent, detail`

func scanAudit(row scanner) (store.AuditEvent, error) { return store.ScanAudit(codec, row) }

// AppendAudit inserts e and returns the id SQLite assigned to it.
func (db *DB) AppendAudit(ctx context.Context, e store.AuditEvent) (int64, error) {
	args, err := codec.AuditArgs(e)
	if err != nil {
		return 0, wrap("append audit", err)
	}
	var id int64
	if err := db.scanWrite(ctx, store.AppendAuditSQL, args, &id); err != nil {
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
	events, err := queryAll(ctx, db.read, scanAudit, query, args...)
	return store.Saved(events, finish("list audit", err))
}

// DeleteAuditBefore deletes, in batches (see deleteInBatches), the events
// that occurred before t.
func (db *DB) DeleteAuditBefore(ctx context.Context, t time.Time) (int64, error) {
	return db.deleteBefore(ctx, "delete audit before", `DELETE FROM audit_events WHERE id IN (
		SELECT id FROM audit_events WHERE occurred_at < ? LIMIT ?)`, t)
}
