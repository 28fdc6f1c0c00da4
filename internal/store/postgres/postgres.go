package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"net"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/latchauth/latch/internal/store"
	"github.com/latchauth/latch/internal/store/sqlstore"
)

var _ store.Store = (*DB)(nil)

// cleanupBatch is how many rows one statement of a clean-up method
// deletes at most. PostgreSQL's writers do not queue behind one another as
// SQLite's do, but one huge DELETE would hold its row locks, and keep
// vacuum from reclaiming anything, until it committed; a thousand rows per
// transaction keeps both short.
const cleanupBatch = 1000

// DB is a store.Store on a PostgreSQL database. It is safe for concurrent
// use, and any number of DBs, in any number of processes, may share one
// database: every read-modify-write takes a database lock, never a Go one.
//
// The funcs given to the Update methods run while their row (or, for
// signing keys, the table) is locked and a pooled connection is held: they
// must be quick and must not write the same row through the DB, which
// would wait for the lock they hold.
type DB struct {
	// Store implements the roles both SQL backends share, over the
	// driver (see dialect.go).
	sqlstore.Store[pgtype.Timestamptz]

	pool *pgxpool.Pool
	// sqlDB borrows connections from pool for goose, which needs a
	// database/sql handle.
	sqlDB *sql.DB
	// cleanupBatch is the package constant; tests lower it so that small
	// data sets take several batches.
	cleanupBatch int
}

// Open connects to the database at url (a postgres:// URL or a key=value
// string, as pgx accepts, including pool_max_conns and runtime parameters
// such as search_path). It checks that the database answers, an error
// wrapping store.ErrUnavailable if not, but does not touch the schema:
// call Migrate.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parser's message quotes the URL and may not catch every
		// spelling of a password in it; logs must not get one.
		return nil, errors.New("postgres: open: cannot parse the database URL (details withheld: they could contain the password)")
	}
	// goose records when a migration ran in a timestamp without time
	// zone, filled by now() in the session's zone; in UTC it means what
	// MigrationStatus says. Our own columns are timestamptz in binary
	// form, which no session zone affects.
	if _, ok := cfg.ConnConfig.RuntimeParams["timezone"]; !ok {
		cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, wrap("open", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, wrap("open", err)
	}
	db := &DB{pool: pool, sqlDB: stdlib.OpenDBFromPool(pool), cleanupBatch: cleanupBatch}
	db.Store = sqlstore.New((*dialect)(db), codec)
	return db, nil
}

// Close closes every connection; it waits for those in use to be
// returned.
func (db *DB) Close() error {
	err := db.sqlDB.Close()
	db.pool.Close()
	return err
}

// Ping checks that the database answers; store.ErrUnavailable if not.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return wrap("ping", err)
	}
	return nil
}

// inTx runs fn in a READ COMMITTED transaction. The methods that take a
// func lock what they read (FOR UPDATE, LOCK TABLE), so that no stronger
// isolation, and no serialization-failure retry loop, is needed.
func (db *DB) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return err
	}
	// A no-op after Commit; on every other path (an error, a panic in a
	// caller's func) it undoes everything. Not ctx: a rollback must still
	// be sent when ctx has ended.
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// finish turns a method's error into what it returns: nil for nil, the
// caller's own error as it was, anything else wrapped and mapped.
func finish(op string, err error) error { return store.Finish(op, err, wrap) }

// PostgreSQL error codes (SQLSTATE) that the backend tells apart.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
)

// wrap maps a driver error onto the store sentinels and adds the
// operation (see store.WrapError); a PostgreSQL error's Detail, which
// quotes row values, is never used.
func wrap(op string, err error) error {
	var kind error
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		kind = store.ErrNotFound
	case pgCode(err) == codeUniqueViolation:
		kind = store.ErrAlreadyExists
	case unavailable(err):
		kind = store.ErrUnavailable
	}
	return store.WrapError("postgres", op, err, kind)
}

// pgCode returns the SQLSTATE of a PostgreSQL error, or "".
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// unavailable reports whether err means that the database cannot serve
// now, as opposed to a bad request: it cannot be reached, is shutting down,
// out of resources or read-only (a failover in progress), a lock or
// statement timed out, or the caller ran out of time waiting for it.
func unavailable(err error) bool {
	if code := pgCode(err); code != "" {
		switch code[:2] {
		case "08", // connection exception
			"53", // insufficient resources: disk full, too many connections
			"57": // operator intervention: shutdown, cannot connect now, statement timeout
			return true
		}
		switch code {
		case "25006", // read_only_sql_transaction: a standby, or a failover
			"40001", // serialization_failure
			"40P01", // deadlock_detected
			"55P03": // lock_not_available: lock_timeout
			return true
		}
		return false
	}
	var (
		connectErr *pgconn.ConnectError
		netErr     net.Error
	)
	return errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		pgconn.Timeout(err) || pgconn.SafeToRetry(err)
}

// nullTime encodes a time for a nullable column: the zero time is NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// fromTS decodes a timestamptz in UTC (pgx returns local time); NULL and
// the zero time both come back as the zero time.
func fromTS(ts pgtype.Timestamptz) time.Time {
	if !ts.Valid || ts.Time.IsZero() {
		return time.Time{}
	}
	return ts.Time.UTC()
}

// amrArray returns AMR for a NOT NULL text[]: nil becomes the empty
// array, and comes back nil.
func amrArray(amr []string) (any, error) {
	if amr == nil {
		return []string{}, nil
	}
	return amr, nil
}

// codec passes times as timestamptz, JSON as json or jsonb (which
// keep, respectively normalise, the text) and AMR as a text[].
var codec = &store.Codec[pgtype.Timestamptz]{
	Time:     func(t time.Time) any { return t },
	NullTime: nullTime,
	FromTime: fromTS,
	JSON:     func(m json.RawMessage) any { return m },
	AMR:      amrArray,
}

// querier is a pool or a transaction, for reads that run in either.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// queryAll runs query on q and decodes every row it returns with scan;
// an empty slice, not nil, if there is none.
func queryAll[T any](ctx context.Context, q querier, scan func(store.Scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (T, error) { return scan(row) })
}

// PoolStats reports the pgx pool, for metrics.
func (db *DB) PoolStats() store.PoolStats {
	s := db.pool.Stat()
	return store.PoolStats{
		Open:         int(s.TotalConns()),
		InUse:        int(s.AcquiredConns()),
		Idle:         int(s.IdleConns()),
		WaitCount:    s.EmptyAcquireCount(),
		WaitDuration: s.EmptyAcquireWaitTime(),
	}
}
