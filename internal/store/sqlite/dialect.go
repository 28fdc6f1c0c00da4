package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/latchauth/latch/internal/store"
	"github.com/latchauth/latch/internal/store/sqlstore"
)

// dialect is the DB as the sqlstore.Driver of the roles both backends
// share: reads on the reader pool, writes on the writer in turn,
// transactions BEGIN IMMEDIATE (which hold SQLite's one write lock, so no
// row needs locking), and the prepared statements wherever the shared
// code runs one of their texts.
type dialect DB

var (
	_ sqlstore.Driver       = (*dialect)(nil)
	_ sqlstore.SessionSaver = (*dialect)(nil)
)

func (d *dialect) Read() sqlstore.Querier  { return reader{(*DB)(d)} }
func (d *dialect) Write() sqlstore.Querier { return writer{(*DB)(d)} }

// InTx prepares the statements (if they are not yet) before it takes the
// writer, which preparing needs too; if they cannot be, the transaction
// runs its statements unprepared, and fails as they do.
func (d *dialect) InTx(ctx context.Context, fn func(tx sqlstore.Querier) error) error {
	db := (*DB)(d)
	var prepared map[string]*sql.Stmt
	if st, err := db.stmts(ctx); err == nil {
		prepared = st.write
	}
	return db.inTx(ctx, func(tx *sql.Tx) error { return fn(txConn{tx, prepared}) })
}

func (d *dialect) RowLocks() bool                  { return false }
func (d *dialect) Wrap(op string, err error) error { return wrap(op, err) }
func (d *dialect) IsForeignKey(err error) bool {
	return isCode(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY)
}

// DeleteBatchSQL picks the batch's rows by rowid, the table's own b-tree
// key (sessions has a TEXT one), the cheapest way back from the subquery
// to the rows. Each batch is a statement of its own on the writer, which
// it gives back in between, so that writes queued behind a long clean-up
// get their turn.
func (d *dialect) DeleteBatchSQL(table, _, where string, limit int) string {
	return fmt.Sprintf(`DELETE FROM %[1]s WHERE rowid IN (
		SELECT rowid FROM %[1]s WHERE %[2]s LIMIT $%[3]d)`, table, where, limit)
}

// CleanupBatch is the package constant, or what a test lowered it to.
func (d *dialect) CleanupBatch() int { return d.cleanupBatch }

// SaveSession saves a rotation with rotateSessionSQL. SQLite rewrites the
// entry of every index on a column the SET names, changed or not, and each
// rewritten index page is one more WAL frame written while the writer is
// held. A rotation changes none of created_at, expires_at and revoked_at,
// so naming only what it changes spares two index pages per refresh (7.7
// WAL frames per rotation down to 5.7).
func (d *dialect) SaveSession(old, s store.Session) (string, []any, bool) {
	if !rotationOnly(old, s) {
		return "", nil, false
	}
	return rotateSessionSQL, []any{micros(s.LastActiveAt), s.RefreshHash, store.Blob(s.ParentHash),
		micros(s.RotatedAt), s.Generation, old.ID}, true
}

// rotationOnly reports whether s differs from old, as stored, in no
// column but those rotateSessionSQL sets.
func rotationOnly(old, s store.Session) bool {
	return sameMicros(s.CreatedAt, old.CreatedAt) && sameMicros(s.ExpiresAt, old.ExpiresAt) &&
		sameMicros(s.RevokedAt, old.RevokedAt) &&
		s.UserAgent == old.UserAgent && s.IP == old.IP && s.AAL == old.AAL &&
		slices.Equal(s.AMR, old.AMR) && sameMicros(s.AuthTime, old.AuthTime) &&
		s.CredentialEpoch == old.CredentialEpoch && s.IDP == old.IDP
}

// sameMicros reports whether a and b are stored alike (see micros and
// nullMicros).
func sameMicros(a, b time.Time) bool {
	return a.IsZero() == b.IsZero() && a.UnixMicro() == b.UnixMicro()
}

// reader runs reads on the reader pool, prepared where it can.
type reader struct{ db *DB }

// stmt returns the prepared statement of query on the reader pool, or
// nil.
func (r reader) stmt(ctx context.Context, query string) *sql.Stmt {
	st, err := r.db.stmts(ctx)
	if err != nil {
		return nil
	}
	return st.read[query]
}

func (r reader) QueryRow(ctx context.Context, query string, args ...any) store.Scanner {
	if s := r.stmt(ctx, query); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return r.db.read.QueryRowContext(ctx, query, args...)
}

func (r reader) Query(ctx context.Context, query string, args []any, row func(store.Scanner) error) error {
	if s := r.stmt(ctx, query); s != nil {
		rows, err := s.QueryContext(ctx, args...)
		return eachRow(rows, err, row)
	}
	rows, err := r.db.read.QueryContext(ctx, query, args...)
	return eachRow(rows, err, row)
}

func (r reader) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return rowsAffected(r.db.read.ExecContext(ctx, query, args...))
}

// writer runs single writes on the writer, in turn.
type writer struct{ db *DB }

func (w writer) QueryRow(ctx context.Context, query string, args ...any) store.Scanner {
	return writeRow{w.db, ctx, query, args}
}

func (w writer) Query(ctx context.Context, query string, args []any, row func(store.Scanner) error) error {
	done, err := w.db.turn(ctx)
	if err != nil {
		return err
	}
	defer done()
	rows, err := w.db.write.QueryContext(ctx, query, args...)
	return eachRow(rows, err, row)
}

func (w writer) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return rowsAffected(w.db.execWrite(ctx, query, args...))
}

// writeRow runs its statement (INSERT ... RETURNING) when scanned.
type writeRow struct {
	db    *DB
	ctx   context.Context
	query string
	args  []any
}

func (r writeRow) Scan(dest ...any) error { return r.db.scanWrite(r.ctx, r.query, r.args, dest...) }

// txConn runs statements in a transaction, prepared where it can.
type txConn struct {
	tx       *sql.Tx
	prepared map[string]*sql.Stmt
}

func (c txConn) QueryRow(ctx context.Context, query string, args ...any) store.Scanner {
	if s := c.prepared[query]; s != nil {
		return c.tx.StmtContext(ctx, s).QueryRowContext(ctx, args...)
	}
	return c.tx.QueryRowContext(ctx, query, args...)
}

func (c txConn) Query(ctx context.Context, query string, args []any, row func(store.Scanner) error) error {
	rows, err := c.tx.QueryContext(ctx, query, args...)
	return eachRow(rows, err, row)
}

func (c txConn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	if s := c.prepared[query]; s != nil {
		return rowsAffected(c.tx.StmtContext(ctx, s).ExecContext(ctx, args...))
	}
	return rowsAffected(c.tx.ExecContext(ctx, query, args...))
}

// eachRow calls row for each of rows (the result of a query that failed
// with err, if not nil) and closes them.
func eachRow(rows *sql.Rows, err error, row func(store.Scanner) error) error {
	if err != nil {
		return err
	}
	defer rows.Close()
	return sqlstore.EachRow(rows, row)
}

func rowsAffected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
