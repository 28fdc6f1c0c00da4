package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/latchauth/latch/internal/store"
)

// statements are the statements of the hot paths (authenticating a
// request, signing in, refreshing, throttling), prepared once and reused:
// SQLite parsing and planning a statement costs more than running one of
// these. Those on the reader pool are used directly (database/sql prepares
// them again on each connection that runs them, once); those on the
// writer are used inside transactions through tx.StmtContext, which
// reuses the writer connection's prepared statement.
//
// The shared code (sqlstore) names a statement by its text: the driver's
// queriers look the text up in read or write and run the prepared
// statement if there is one.
type statements struct {
	read, write map[string]*sql.Stmt

	// The throttles' own, on the reader pool and the writer.
	getThrottles   *sql.Stmt
	selectThrottle *sql.Stmt
	upsertThrottle *sql.Stmt
}

// rotateSessionSQL saves what a rotation changes of a session (see
// dialect.SaveSession).
const rotateSessionSQL = `UPDATE sessions SET
	last_active_at = ?, refresh_hash = ?, parent_hash = ?, rotated_at = ?, generation = ?
	WHERE id = ? RETURNING ` + store.SessionColumns

// The statements prepared on each pool, by text.
var (
	readStatements = []string{
		store.GetSessionSQL, store.GetSessionWithUserSQL, store.GetSessionByRefreshHashSQL,
		store.GetUserSQL, store.GetUserByEmailSQL,
		store.ListIdentitiesSQL, // GET /v1/user lists them
	}
	writeStatements = []string{
		store.InsertSessionSQL,
		store.UserEpochSQL, // checked by insertSession
		store.InsertRefreshTokenSQL,
		store.GetSessionSQL, // the row UpdateSession changes
		store.UpdateSessionSQL,
		rotateSessionSQL,
		// The row UpdateSessionByRefreshHash changes, joined with its user.
		store.SessionWithUserByRefreshHashSQL,
	}
)

// prepareStatements prepares every statement of statements, read ones on
// read and write ones on write; on an error it closes those it prepared.
func prepareStatements(ctx context.Context, read, write *sql.DB) (*statements, error) {
	var (
		st   = statements{read: map[string]*sql.Stmt{}, write: map[string]*sql.Stmt{}}
		errs []error
	)
	prepare := func(db *sql.DB, query string) *sql.Stmt {
		s, err := db.PrepareContext(ctx, query)
		if err != nil {
			errs = append(errs, err)
		}
		return s
	}
	for _, q := range readStatements {
		st.read[q] = prepare(read, q)
	}
	for _, q := range writeStatements {
		st.write[q] = prepare(write, q)
	}
	st.getThrottles = prepare(read, `SELECT `+store.ThrottleColumns+` FROM throttles
		WHERE key IN (SELECT value FROM json_each(?))`)
	st.selectThrottle = prepare(write, `SELECT `+store.ThrottleColumns+` FROM throttles WHERE key = ?`)
	st.upsertThrottle = prepare(write, `INSERT INTO throttles (`+store.ThrottleColumns+`)
		VALUES (?, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET failures = excluded.failures,
			last_failure_at = excluded.last_failure_at, blocked_until = excluded.blocked_until
		RETURNING `+store.ThrottleColumns)

	if len(errs) > 0 {
		st.close()
		return nil, errors.Join(errs...)
	}
	return &st, nil
}

// close closes every statement prepared.
func (st *statements) close() error {
	var errs []error
	all := []*sql.Stmt{st.getThrottles, st.selectThrottle, st.upsertThrottle}
	for _, m := range []map[string]*sql.Stmt{st.read, st.write} {
		for _, s := range m {
			all = append(all, s)
		}
	}
	for _, s := range all {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
}

// stmts returns the prepared statements, preparing them on the first call
// that finds none. Not at Open: Open does not migrate, and SQLite cannot
// prepare a statement on a table that does not exist yet; a failure is
// returned, and the next call tries again. It takes the writer connection
// for a moment, so it must not be called inside a transaction (inTx),
// which holds it: call it first.
func (db *DB) stmts(ctx context.Context) (*statements, error) {
	if st := db.prepared.Load(); st != nil {
		return st, nil
	}
	db.prepareMu.Lock()
	defer db.prepareMu.Unlock()
	if st := db.prepared.Load(); st != nil {
		return st, nil
	}
	st, err := prepareStatements(ctx, db.read, db.write)
	if err != nil {
		return nil, err
	}
	db.prepared.Store(st)
	return st, nil
}
