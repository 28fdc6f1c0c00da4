package sqlstore

import (
	"context"
	"time"

	"github.com/latchauth/latch/internal/store"
)

// The audit trail and the mail outbox: their ids come from the database,
// which a backend's own ClaimMail and batched deletes complete.

// AppendAudit inserts e and returns the id the database assigned to it.
// On PostgreSQL ids come from a sequence: they increase in the order the
// inserts ran, which concurrent transactions may commit in another order,
// and a rolled back insert leaves a gap.
func (s Store[T]) AppendAudit(ctx context.Context, e store.AuditEvent) (int64, error) {
	args, err := s.c.AuditArgs(e)
	return s.insertID(ctx, "append audit", store.AppendAuditSQL, args, err)
}

// ListAudit returns the events opts selects, newest first.
func (s Store[T]) ListAudit(ctx context.Context, opts store.ListAuditOptions) ([]store.AuditEvent, error) {
	query, args, ok := s.c.ListAuditQuery(opts, store.AuditColumns)
	if !ok {
		return nil, nil
	}
	events, err := queryAll(ctx, s.d.Read(), s.c.ScanAudit, query, args...)
	return store.Saved(events, s.finish("list audit", err))
}

// EnqueueMail inserts m and returns the id the database assigned to it
// (from a sequence on PostgreSQL, as AppendAudit's). m.Kind and m.To must
// not be empty, m.CreatedAt and m.ExpiresAt not zero, m.UserID a UUID or
// empty (stored in canonical form), m.Data a JSON object or nil. A zero
// m.NextAttemptAt is stored as m.CreatedAt; m.ID, m.Attempts,
// m.LockedUntil and m.LastError are ignored.
func (s Store[T]) EnqueueMail(ctx context.Context, m store.OutboxMessage) (int64, error) {
	args, err := s.c.MailArgs(m)
	return s.insertID(ctx, "enqueue mail", store.EnqueueMailSQL, args, err)
}

// insertID runs query, an INSERT ... RETURNING id, with args, unless
// building them failed with argsErr, and returns the id the database
// assigned.
func (s Store[T]) insertID(ctx context.Context, op, query string, args []any, argsErr error) (int64, error) {
	if argsErr != nil {
		return 0, s.d.Wrap(op, argsErr)
	}
	var id int64
	err := s.d.Write().QueryRow(ctx, query, args...).Scan(&id)
	return store.Saved(id, s.finish(op, err))
}

// RetryMail records a failed delivery of the message; store.ErrNotFound if
// it is gone. lastErr is stored with NUL bytes and invalid UTF-8 replaced
// by U+FFFD (see store.StorableText).
func (s Store[T]) RetryMail(ctx context.Context, id int64, next time.Time, lastErr string) error {
	n, err := s.d.Write().Exec(ctx, store.RetryMailSQL, id, s.c.Time(next), store.StorableText(lastErr))
	return s.finish("retry mail", exactlyOne(n, err))
}

// DeleteMail removes the message; a missing one is not an error.
func (s Store[T]) DeleteMail(ctx context.Context, id int64) error {
	_, err := s.d.Write().Exec(ctx, store.DeleteMailSQL, id)
	return s.finish("delete mail", err)
}

// CountMail counts the messages in the outbox, claimed or not.
func (s Store[T]) CountMail(ctx context.Context) (int64, error) {
	var n int64
	err := s.d.Read().QueryRow(ctx, store.CountMailSQL).Scan(&n)
	return store.Saved(n, s.finish("count mail", err))
}
