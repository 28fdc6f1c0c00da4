// Package sqlstore implements the store roles once for both SQL backends.
// A backend gives it a Driver (how to run a statement, how to begin a
// write transaction that excludes other writers of the rows it reads, how
// to map a driver error) and its store.Codec, and embeds the Store this
// package returns; the backend keeps for itself only what its dialect
// does differently (throttles, claiming mail, migrations).
//
// It holds no SQL of its own beyond what package store shares and the
// conditions of its clean-ups, and no knowledge of any driver's types.
package sqlstore

import (
	"context"

	"github.com/latchauth/latch/internal/store"
)

// Querier runs statements on a pool or in a transaction.
type Querier interface {
	// QueryRow runs a query expected to return at most one row; its
	// error, or sql.ErrNoRows/pgx.ErrNoRows, comes from Scan.
	QueryRow(ctx context.Context, query string, args ...any) store.Scanner
	// Query runs a query and calls row for each row it returns, stopping
	// at the first error.
	Query(ctx context.Context, query string, args []any, row func(store.Scanner) error) error
	// Exec runs a statement and returns how many rows it changed.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
}

// Rows is a driver's result set as EachRow reads it (*sql.Rows,
// pgx.Rows).
type Rows interface {
	store.Scanner
	Next() bool
	Err() error
}

// EachRow is the loop of a Querier's Query: it calls row for each of
// rows, stopping at the first error, and then returns the error that
// ended the rows, if any. The caller closes rows.
func EachRow(rows Rows, row func(store.Scanner) error) error {
	for rows.Next() {
		if err := row(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Driver is what Store needs of a backend.
type Driver interface {
	// Read runs reads outside a transaction.
	Read() Querier
	// Write runs single write statements outside a transaction.
	Write() Querier
	// InTx runs fn in a write transaction, committed if fn returns nil
	// and rolled back otherwise. With Lock's clauses the rows fn reads
	// stay as read until it ends.
	InTx(ctx context.Context, fn func(tx Querier) error) error
	// RowLocks reports whether the rows a transaction reads must be
	// locked (FOR UPDATE, FOR SHARE), or whether InTx already excludes
	// every other writer (SQLite's BEGIN IMMEDIATE).
	RowLocks() bool
	// Wrap maps a driver error onto the store's sentinels and names op.
	Wrap(op string, err error) error
	// IsForeignKey reports whether err is a foreign-key violation.
	IsForeignKey(err error) bool
	// DeleteBatchSQL returns a DELETE of one batch of a clean-up: at most
	// $limit of the rows of table that match where (a condition on $1 to
	// $limit-1), picked by key or however the dialect reaches a row
	// fastest.
	DeleteBatchSQL(table, key, where string, limit int) string
	// CleanupBatch is how many rows one such DELETE removes at most.
	CleanupBatch() int
}

// SessionSaver is what a Driver may add to save a changed session with a
// statement of its own (SQLite's narrower UPDATE for a rotation): query
// and args save s, which old was, and return the row as
// store.SessionColumns; ok false for store.UpdateSessionSQL.
type SessionSaver interface {
	SaveSession(old, s store.Session) (query string, args []any, ok bool)
}

// KeyLocker is what a Driver may add to lock the signing keys for
// UpdateSigningKeys: the statement that excludes every other
// UpdateSigningKeys until the transaction ends, where InTx alone does not.
type KeyLocker interface {
	LockKeysSQL() string
}

// Store implements the roles both SQL backends share; a backend embeds it.
// T is the type its time columns scan into.
type Store[T any] struct {
	d     Driver
	c     *store.Codec[T]
	locks bool // d.RowLocks()
}

// New returns the Store of a backend.
func New[T any](d Driver, c *store.Codec[T]) Store[T] {
	return Store[T]{d: d, c: c, locks: d.RowLocks()}
}

// locking returns query, a SELECT that reads rows a transaction will
// change, with clause (" FOR UPDATE"...) if the driver locks rows. Both
// texts are constants at the call sites: nothing is joined per call.
func (s Store[T]) locking(query, withClause string) string {
	if s.locks {
		return withClause
	}
	return query
}

// finish turns a method's error into what it returns (see store.Finish).
func (s Store[T]) finish(op string, err error) error { return store.Finish(op, err, s.d.Wrap) }

// queryAll runs query on q and decodes every row with scan; nil if there
// is none.
func queryAll[V any](ctx context.Context, q Querier, scan func(store.Scanner) (V, error), query string, args ...any) ([]V, error) {
	var out []V
	err := q.Query(ctx, query, args, func(row store.Scanner) error {
		v, err := scan(row)
		if err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	return store.Saved(out, err)
}

// getByID runs query, a read of one row by its id, with the id in
// canonical form (see getOne: a malformed id names no row).
func getByID[V, T any](ctx context.Context, s Store[T], op string, scan func(store.Scanner) (V, error), query, id string) (V, error) {
	id, ok := store.CanonicalID(id)
	return getOne(ctx, s, op, scan, query, id, ok)
}

// getOne runs query, a read of one row by key, and decodes the row with
// scan. A key that cannot name a row (not ok: a malformed id, an empty
// hash) is store.ErrNotFound without a query.
func getOne[V, T any](ctx context.Context, s Store[T], op string, scan func(store.Scanner) (V, error), query string, key any, ok bool) (V, error) {
	if !ok {
		var zero V
		return zero, s.d.Wrap(op, store.ErrNotFound)
	}
	v, err := scan(s.d.Read().QueryRow(ctx, query, key))
	return store.Saved(v, s.finish(op, err))
}

// insert runs query, an INSERT, with args, unless building them failed
// with argsErr. A foreign-key violation is store.ErrNotFound: the row's
// owner (its user) does not exist.
func (s Store[T]) insert(ctx context.Context, op, query string, args []any, argsErr error) error {
	if argsErr != nil {
		return s.d.Wrap(op, argsErr)
	}
	_, err := s.d.Write().Exec(ctx, query, args...)
	if s.d.IsForeignKey(err) {
		err = store.ErrNotFound
	}
	return s.finish(op, err)
}

// updateColumns is the Update method of a row of which a caller may
// change some columns only: it locks the row with id (lockSQL, $1 the id
// in canonical form), applies fn (see store.Edit) and saves with
// updateSQL what may change, the arguments args returns, in one
// transaction.
func updateColumns[V, T any](ctx context.Context, s Store[T], op, id string, fn func(*V) error,
	scan func(store.Scanner) (V, error), lockSQL, updateSQL string, args func(id string, v V) []any) (V, error) {
	return updateByID(ctx, s, op, id, func(tx Querier, id string) (V, error) {
		return store.Edit(func() (V, error) {
			return scan(tx.QueryRow(ctx, lockSQL, id))
		}, fn, func(v V) (V, error) {
			return scan(tx.QueryRow(ctx, updateSQL, args(id, v)...))
		})
	})
}

// listOfUser runs query, a list of one user's rows, with the user's id
// in canonical form and then args: nil for a malformed id, which no user
// has.
func listOfUser[V, T any](ctx context.Context, s Store[T], op string, scan func(store.Scanner) (V, error), query, userID string, args ...any) ([]V, error) {
	userID, ok := store.CanonicalID(userID)
	if !ok {
		return nil, nil
	}
	rows, err := queryAll(ctx, s.d.Read(), scan, query, append([]any{userID}, args...)...)
	return store.Saved(rows, s.finish(op, err))
}

// updateByID runs edit in one transaction on the row with id, in
// canonical form: the read-modify-write of an Update method. A malformed
// id is store.ErrNotFound.
func updateByID[V, T any](ctx context.Context, s Store[T], op, id string, edit func(tx Querier, id string) (V, error)) (V, error) {
	id, ok := store.CanonicalID(id)
	if !ok {
		var zero V
		return zero, s.d.Wrap(op, store.ErrNotFound)
	}
	var saved V
	err := s.d.InTx(ctx, func(tx Querier) (err error) {
		saved, err = edit(tx, id)
		return err
	})
	return store.Saved(saved, s.finish(op, err))
}

// exactlyOne returns store.ErrNotFound unless n, the rows a statement
// changed, is at least one.
func exactlyOne(n int64, err error) error {
	if err == nil && n == 0 {
		return store.ErrNotFound
	}
	return err
}
