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
type statements struct {
	// On the reader pool.
	getSession              *sql.Stmt
	getSessionWithUser      *sql.Stmt
	getSessionByRefreshHash *sql.Stmt
	getUser                 *sql.Stmt
	getUserByEmail          *sql.Stmt
	getThrottles            *sql.Stmt

	// On the writer.
	insertSession      *sql.Stmt
	selectUserEpoch    *sql.Stmt // the user's credential epoch, checked by insertSession
	insertRefreshToken *sql.Stmt
	selectSession      *sql.Stmt // the row UpdateSession changes
	updateSession      *sql.Stmt
	rotateSession      *sql.Stmt // updateSession for a rotation; see saveSession
	selectThrottle     *sql.Stmt
	upsertThrottle     *sql.Stmt

	// The row UpdateSessionByRefreshHash changes, joined with its user.
	selectSessionByRefreshHash *sql.Stmt
}

// prepareStatements prepares every statement of statements, read ones on
// read and write ones on write; on an error it closes those it prepared.
func prepareStatements(ctx context.Context, read, write *sql.DB) (*statements, error) {
	var (
		st   statements
		errs []error
		all  []*sql.Stmt
	)
	prepare := func(db *sql.DB, query string) *sql.Stmt {
		s, err := db.PrepareContext(ctx, query)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		all = append(all, s)
		return s
	}
	st.getSession = prepare(read, store.GetSessionSQL)
	st.getSessionWithUser = prepare(read, store.GetSessionWithUserSQL)
	st.getSessionByRefreshHash = prepare(read, store.GetSessionByRefreshHashSQL)
	st.getUser = prepare(read, store.GetUserSQL)
	st.getUserByEmail = prepare(read, store.GetUserByEmailSQL)
	st.getThrottles = prepare(read, `SELECT `+store.ThrottleColumns+` FROM throttles
		WHERE key IN (SELECT value FROM json_each(?))`)

	st.insertSession = prepare(write, store.InsertSessionSQL)
	st.selectUserEpoch = prepare(write, store.UserEpochSQL)
	st.insertRefreshToken = prepare(write, store.InsertRefreshTokenSQL)
	st.selectSession = prepare(write, store.GetSessionSQL)
	st.selectSessionByRefreshHash = prepare(write, store.SessionWithUserByRefreshHashSQL)
	st.updateSession = prepare(write, store.UpdateSessionSQL)
	st.rotateSession = prepare(write, `UPDATE sessions SET
		last_active_at = ?, refresh_hash = ?, parent_hash = ?, rotated_at = ?, generation = ?
		WHERE id = ? RETURNING `+store.SessionColumns)
	st.selectThrottle = prepare(write, `SELECT `+store.ThrottleColumns+` FROM throttles WHERE key = ?`)
	st.upsertThrottle = prepare(write, `INSERT INTO throttles (`+store.ThrottleColumns+`)
		VALUES (?, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET failures = excluded.failures,
			last_failure_at = excluded.last_failure_at, blocked_until = excluded.blocked_until
		RETURNING `+store.ThrottleColumns)

	if len(errs) > 0 {
		for _, s := range all {
			s.Close()
		}
		return nil, errors.Join(errs...)
	}
	return &st, nil
}

// close closes every statement.
func (st *statements) close() error {
	var errs []error
	for _, s := range []*sql.Stmt{
		st.getSession, st.getSessionWithUser, st.getSessionByRefreshHash,
		st.getUser, st.getUserByEmail, st.getThrottles,
		st.insertSession, st.selectUserEpoch, st.insertRefreshToken, st.selectSession, st.selectSessionByRefreshHash, st.updateSession,
		st.rotateSession,
		st.selectThrottle, st.upsertThrottle,
	} {
		errs = append(errs, s.Close())
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
