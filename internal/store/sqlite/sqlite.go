package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/latchauth/latch/internal/store"
	"github.com/latchauth/latch/internal/store/sqlstore"
)

var _ store.Store = (*DB)(nil)

// busyTimeout is how long a statement waits for another connection's lock
// (another process's writer, or a checkpoint) before SQLite gives up with
// SQLITE_BUSY, which callers see as store.ErrUnavailable.
const busyTimeout = 5 * time.Second

// cleanupBatch is how many rows one statement of a clean-up method
// deletes at most. Each statement holds the single writer, so every other
// write (in this process, and other processes' writers) waits for it; a
// thousand sessions with their refresh tokens go in milliseconds, so a
// sign-in queued behind a clean-up waits about that long instead of for
// the whole clean-up.
const cleanupBatch = 1000

// DB is a store.Store on one SQLite file. It is safe for concurrent use.
//
// SQLite admits one writer at a time, so DB keeps two pools: a single
// writer connection, which runs every write (those of more than one
// statement as BEGIN IMMEDIATE transactions), and a pool of read-only
// connections that WAL lets run alongside the writer. Writers in this process therefore queue in
// database/sql, honouring their contexts, instead of spinning in SQLite's
// busy handler; busy_timeout only arbitrates between processes.
//
// The funcs given to the Update methods run while that writer is held, so
// every other write in the process waits for them: they must be quick (no
// network calls, no password hashing) and must not call the DB's write
// methods, which would wait for themselves.
type DB struct {
	// Store implements the roles both SQL backends share, over the
	// driver (see dialect.go).
	sqlstore.Store[sql.NullInt64]

	path  string
	write *sql.DB
	read  *sql.DB
	// cleanupBatch is the package constant; tests lower it so that small
	// data sets take several batches.
	cleanupBatch int

	// prepared holds the hot statements once stmts has prepared them;
	// prepareMu lets one caller at a time prepare them.
	prepared  atomic.Pointer[statements]
	prepareMu sync.Mutex

	// writeTurn hands the writer connection out first come, first served.
	// database/sql gives a freed connection to a random waiter, which on
	// a one-connection pool lets an unlucky request wait behind dozens of
	// later ones (refresh p99 at 64 clients was 6x its median); a
	// channel's waiters are served in order.
	writeTurn chan struct{}
	// waiting counts the callers queued in turn, so that the one giving
	// the writer back knows whether to yield it (see turn).
	waiting atomic.Int32
}

// Open opens (creating it if missing) the SQLite database at path, a file
// name without URI parameters. Its directory must exist. Open checks that
// the file can be opened but does not touch the schema: call Migrate.
func Open(ctx context.Context, path string) (*DB, error) {
	// The pragmas go after a '?', and each pooled connection to
	// ":memory:" would get a database of its own.
	if path == "" || strings.Contains(path, "?") || strings.HasPrefix(path, "file:") || path == ":memory:" {
		return nil, errors.New("sqlite: open: path must be a plain file name")
	}
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("sqlite: open: directory of %s: %w", path, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("sqlite: open: %s is not a directory", dir)
	} else if worldWritable(fi) {
		return nil, fmt.Errorf("sqlite: open: directory %s is writable by every user (mode %v): anyone could plant, swap or (without the sticky bit) delete the database files in it; keep the database in a directory only latch's user can write", dir, fi.Mode().Perm())
	}
	if err := private(path, companions...); err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}

	// The pragmas travel in the DSN so that the driver applies them to
	// every connection it opens, not only the first one.
	//
	// synchronous=NORMAL in WAL mode fsyncs at checkpoints, not at every
	// commit: a commit survives the process crashing or being killed, but
	// the last few commits can be lost if the machine loses power. Login
	// throttles and refresh rotations are worth that trade; FULL would cost
	// an fsync per refresh.
	common := fmt.Sprintf("_busy_timeout=%d&_foreign_keys=1&_journal_mode=WAL&_synchronous=NORMAL",
		busyTimeout.Milliseconds())
	write, err := sql.Open("sqlite", path+"?"+common+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	// One connection: SQLite has one writer anyway, and a second writer
	// connection in this process would only wait in the busy handler.
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)

	read, err := sql.Open("sqlite", path+"?"+common+"&_query_only=1")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)

	db := &DB{path: path, write: write, read: read, cleanupBatch: cleanupBatch, writeTurn: make(chan struct{}, 1)}
	db.Store = sqlstore.New((*dialect)(db), codec)
	// The writer first: it creates the file and switches it to WAL before a
	// read-only connection could try to.
	if err := write.PingContext(ctx); err != nil {
		db.Close()
		return nil, wrap("open", err)
	}
	if err := read.PingContext(ctx); err != nil {
		db.Close()
		return nil, wrap("open", err)
	}
	return db, nil
}

// companions are the suffixes of the files SQLite and latch keep beside
// the database: the write-ahead log, its shared-memory index, a rollback
// journal (before WAL mode is on) and the migration lock.
var companions = []string{"-wal", "-shm", "-journal", migrateLockSuffix}

// private makes the database file at path, and any companion file
// (path+suffix) that exists, readable and writable by the owner only.
//
// The database holds password hashes, sealed signing keys, sessions and
// the audit trail; SQLite creates files 0644 less the umask, so on most
// systems every local user could read them. A missing database is
// created 0600 here, empty (an empty file is an empty SQLite database),
// before SQLite opens it: SQLite then creates the -wal, -shm and -journal
// files with the database file's own mode (unix VFS findCreateFileMode,
// also in modernc.org/sqlite), so they are 0600 too. Files an older latch
// created with wider modes lose their group and other bits.
func private(path string, suffixes ...string) error {
	// O_EXCL: never follow a link someone left where the file should be.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		if err := f.Close(); err != nil {
			return err
		}
	case !errors.Is(err, fs.ErrExist):
		return fmt.Errorf("create %s: %w", path, err)
	}
	for _, p := range append([]string{path}, withSuffixes(path, suffixes)...) {
		fi, err := os.Stat(p) // a database reached through a symbolic link is fine
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			return err
		case !fi.Mode().IsRegular():
			return fmt.Errorf("%s is not a regular file (%v)", p, fi.Mode().Type())
		case fi.Mode().Perm()&0o077 != 0 && runtime.GOOS != "windows":
			if err := os.Chmod(p, fi.Mode().Perm()&0o700); err != nil {
				return fmt.Errorf("restrict %s to its owner: %w", p, err)
			}
		}
	}
	return nil
}

func withSuffixes(path string, suffixes []string) []string {
	out := make([]string, len(suffixes))
	for i, s := range suffixes {
		out[i] = path + s
	}
	return out
}

// worldWritable reports whether every user may create and rename files
// in the directory fi describes (Windows has no such bits to read).
func worldWritable(fi fs.FileInfo) bool {
	return runtime.GOOS != "windows" && fi.Mode().Perm()&0o002 != 0
}

// Close closes the prepared statements and both connection pools.
func (db *DB) Close() error {
	db.prepareMu.Lock()
	defer db.prepareMu.Unlock()
	var err error
	if st := db.prepared.Swap(nil); st != nil {
		err = st.close()
	}
	return errors.Join(err, db.write.Close(), db.read.Close())
}

// Ping checks that both pools can reach the file; store.ErrUnavailable if
// not.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.write.PingContext(ctx); err != nil {
		return wrap("ping", err)
	}
	if err := db.read.PingContext(ctx); err != nil {
		return wrap("ping", err)
	}
	return nil
}

// inTx runs fn in a write transaction; BEGIN IMMEDIATE (from the DSN's
// _txlock) takes the write lock up front, so the rows fn reads cannot
// change before it writes, and no deferred-to-write upgrade can fail with
// SQLITE_BUSY halfway.
func (db *DB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	done, err := db.turn(ctx)
	if err != nil {
		return err
	}
	defer done()
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	// A no-op after Commit; on every other path (an error, a panic in a
	// caller's func) it undoes everything.
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// turn waits for the writer, in arrival order, and returns the function
// that gives it back. Every use of the writer connection takes its turn.
func (db *DB) turn(ctx context.Context) (func(), error) {
	db.waiting.Add(1)
	defer db.waiting.Add(-1)
	select {
	case db.writeTurn <- struct{}{}:
		return func() {
			<-db.writeTurn
			// The receive readies the next caller in line, but only to run
			// after this goroutine, which would first sign a token and
			// write a response: the writer then sat idle about 150 µs per
			// refresh, a third of each turn, at 64 clients on two cores.
			// Yielding hands the processor to the next writer at once
			// (refresh at 64 clients: about 2,000 to 2,400 req/s).
			if db.waiting.Load() > 0 {
				runtime.Gosched()
			}
		}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// execWrite runs one write statement outside a transaction, in turn.
func (db *DB) execWrite(ctx context.Context, query string, args ...any) (sql.Result, error) {
	done, err := db.turn(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	return db.write.ExecContext(ctx, query, args...)
}

// scanWrite runs one write statement that returns a row (INSERT ...
// RETURNING) outside a transaction, in turn, and scans the row.
func (db *DB) scanWrite(ctx context.Context, query string, args []any, dest ...any) error {
	done, err := db.turn(ctx)
	if err != nil {
		return err
	}
	defer done()
	return db.write.QueryRowContext(ctx, query, args...).Scan(dest...)
}

// finish turns a method's error into what it returns: nil for nil, the
// caller's own error as it was, anything else wrapped and mapped.
func finish(op string, err error) error { return store.Finish(op, err, wrap) }

// wrap maps a driver error onto the store sentinels and adds the
// operation (see store.WrapError).
func wrap(op string, err error) error {
	var kind error
	switch {
	case errors.Is(err, sql.ErrNoRows):
		kind = store.ErrNotFound
	case isCode(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE), isCode(err, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY):
		kind = store.ErrAlreadyExists
	case unavailable(err):
		kind = store.ErrUnavailable
	}
	return store.WrapError("sqlite", op, err, kind)
}

// isCode reports whether err is a SQLite error with this extended result
// code.
func isCode(err error, code int) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == code
}

// unavailable reports whether err means that the database cannot serve
// now, as opposed to a bad request: the file is locked past the busy
// timeout, read-only, full, failing I/O or cannot be opened, or the caller
// ran out of time waiting for it.
func unavailable(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff { // the primary code of an extended one
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_READONLY,
			sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN,
			sqlite3.SQLITE_NOMEM:
			return true
		}
		return false
	}
	return errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, sql.ErrConnDone) || errors.Is(err, driver.ErrBadConn)
}

// micros encodes a time for a NOT NULL column.
func micros(t time.Time) int64 { return t.UnixMicro() }

// nullMicros encodes a time for a nullable column: the zero time is NULL.
func nullMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// fromMicros decodes a time column; NULL and the encoded zero time both
// come back as the zero time.
func fromMicros(v sql.NullInt64) time.Time {
	if !v.Valid || v.Int64 == zeroMicros {
		return time.Time{}
	}
	return time.UnixMicro(v.Int64).UTC()
}

var zeroMicros = time.Time{}.UnixMicro()

// amrText encodes AMR as a JSON array; nil and empty are both "[]" and
// come back nil.
func amrText(amr []string) (any, error) {
	if len(amr) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(amr)
	return string(b), err
}

// codec encodes times as unix microseconds (see micros), JSON as TEXT
// and AMR as a JSON array in TEXT.
var codec = &store.Codec[sql.NullInt64]{
	Time:     func(t time.Time) any { return micros(t) },
	NullTime: nullMicros,
	FromTime: fromMicros,
	JSON:     func(m json.RawMessage) any { return string(m) },
	AMR:      amrText,
	AMRJSON:  true,
}

// querier is a pool or a transaction, for reads that run in either.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// queryAll runs query on q and decodes every row it returns with scan;
// nil if there is none.
func queryAll[T any](ctx context.Context, q querier, scan func(store.Scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return scanAll(rows, scan)
}

// scanAll decodes every row of rows with scan, and closes rows; nil if
// there is none.
func scanAll[T any](rows *sql.Rows, scan func(store.Scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// PoolStats sums the writer and reader pools, for metrics.
func (db *DB) PoolStats() store.PoolStats {
	var out store.PoolStats
	for _, p := range []*sql.DB{db.write, db.read} {
		s := p.Stats()
		out.Open += s.OpenConnections
		out.InUse += s.InUse
		out.Idle += s.Idle
		out.WaitCount += s.WaitCount
		out.WaitDuration += s.WaitDuration
	}
	return out
}
