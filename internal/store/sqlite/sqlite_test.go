package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/store"
	"github.com/latchauth/latch/internal/store/storetest"
)

// open opens a new database file in a temporary directory.
func open(tb testing.TB) *DB {
	tb.Helper()
	db, err := Open(context.Background(), filepath.Join(tb.TempDir(), "latch.db"))
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	// Small batches, so that the suite's few rows take several.
	db.cleanupBatch = 3
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

func TestShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		path := filepath.Join(t.TempDir(), "latch.db")
		return storetest.OpenTwice(t, func(ctx context.Context) (store.Store, error) { return Open(ctx, path) })
	})
}

func TestUpgrade(t *testing.T) {
	storetest.RunUpgrade(t, func(t *testing.T) storetest.Upgrade {
		db := open(t)
		return storetest.Upgrade{
			Store:     db,
			MigrateTo: storetest.GooseMigrateTo(db.provider),
			Encoding:  v1Encoding,
			Insert:    db.seed,
		}
	})
}

// v1Encoding is how the schema versions that the seeds write stored times
// (unix microseconds) and the AMR (a JSON array as text).
var v1Encoding = storetest.SeedEncoding{
	Time: func(t time.Time) any { return t.UnixMicro() },
	AMR: func(amr []string) any {
		b, _ := json.Marshal(amr)
		return string(b)
	},
}

// seed inserts rows in one transaction, with SQL of its own: the
// package's current statements may have changed since the rows' schema
// version.
func (db *DB) seed(ctx context.Context, rows []storetest.SeedRow) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, r := range rows {
		if _, err := tx.ExecContext(ctx, r.InsertSQL(), r.Values...); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func BenchmarkRotate(b *testing.B) {
	storetest.BenchRotate(b, func(b *testing.B) store.Store { return open(b) })
}

// TestPragmas checks every connection of both pools, not only the first:
// a pragma set once with Exec would reach one connection only.
func TestPragmas(t *testing.T) {
	ctx := t.Context()
	db := open(t)
	defer db.Close()
	want := map[string]int64{"foreign_keys": 1, "synchronous": 1, "busy_timeout": 5000}
	check := func(name string, pool *sql.DB, n int, queryOnly int64) {
		t.Helper()
		var conns []*sql.Conn
		for range n {
			c, err := pool.Conn(ctx)
			if err != nil {
				t.Fatalf("%s: Conn: %v", name, err)
			}
			conns = append(conns, c)
		}
		for i, c := range conns {
			for pragma, want := range want {
				var got int64
				if err := c.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
					t.Fatalf("%s conn %d: PRAGMA %s: %v", name, i, pragma, err)
				}
				if got != want {
					t.Errorf("%s conn %d: %s = %d, want %d", name, i, pragma, got, want)
				}
			}
			var mode string
			if err := c.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
				t.Errorf("%s conn %d: journal_mode = %q, %v; want wal", name, i, mode, err)
			}
			var qo int64
			if err := c.QueryRowContext(ctx, "PRAGMA query_only").Scan(&qo); err != nil || qo != queryOnly {
				t.Errorf("%s conn %d: query_only = %d, %v; want %d", name, i, qo, err, queryOnly)
			}
		}
		for _, c := range conns {
			c.Close()
		}
	}
	check("writer", db.write, 1, 0)
	check("reader", db.read, 4, 1)
}

func TestOpenMissingDirectory(t *testing.T) {
	_, err := Open(t.Context(), filepath.Join(t.TempDir(), "missing", "latch.db"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open in a missing directory: got %v, want fs.ErrNotExist", err)
	}
	for _, path := range []string{"", ":memory:", "file:latch.db", "latch.db?mode=ro"} {
		if _, err := Open(t.Context(), path); err == nil {
			t.Errorf("Open(%q): got nil error, want one", path)
		}
	}
}

func TestOpenDoesNotMigrate(t *testing.T) {
	db := open(t)
	defer db.Close()
	var n int
	if err := db.read.QueryRowContext(t.Context(), `SELECT count(*) FROM sqlite_schema`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("Open created %d schema objects, want 0", n)
	}
}

func TestDatabaseTooNew(t *testing.T) {
	db := open(t)
	defer db.Close()
	storetest.CheckDatabaseTooNew(t, db, func(ctx context.Context) error {
		_, err := db.write.ExecContext(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES (99999, 1)`)
		return err
	})
}

// TestMigrateLock checks the companion-file lock that keeps two processes
// from migrating one file at once.
func TestMigrateLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latch.db")
	a, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	unlock, err := a.lockMigrations(t.Context())
	if err != nil {
		t.Fatalf("lockMigrations: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	err = b.Migrate(ctx)
	if err == nil {
		t.Fatalf("Migrate while another store holds the lock: got nil error, want one")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Migrate while locked: got %v, want context.DeadlineExceeded", err)
	}
	unlock()
	if err := b.Migrate(t.Context()); err != nil {
		t.Errorf("Migrate after unlock: %v", err)
	}
}

// TestUnavailable checks that the SQLite codes that mean "not now" map to
// store.ErrUnavailable, with errors from a real database.
func TestUnavailable(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "latch.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}

	// Another process holds the write lock: a connection with a short
	// busy timeout gets SQLITE_BUSY.
	other, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := other.write.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	impatient, err := sql.Open("sqlite", path+"?_busy_timeout=10&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer impatient.Close()
	_, busy := impatient.BeginTx(ctx, nil)
	if err := wrap("test", busy); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("SQLITE_BUSY: got %v, want ErrUnavailable", err)
	}

	// A caller whose deadline passes while waiting for the lock.
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = db.UpdateThrottle(short, "k", func(th *store.Throttle) error { th.Failures++; return nil })
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("UpdateThrottle past its deadline: got %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("UpdateThrottle past its deadline returned after %v, want about 200ms", d)
	}
	tx.Rollback()

	// A write on a read-only connection: SQLITE_READONLY.
	_, err = db.read.ExecContext(ctx, `DELETE FROM throttles`)
	if err := wrap("test", err); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("SQLITE_READONLY: got %v, want ErrUnavailable", err)
	}
}

func BenchmarkGetSessionAndUser(b *testing.B) {
	storetest.BenchGetSessionAndUser(b, func(b *testing.B) store.Store { return open(b) })
}

func BenchmarkGetSessionWithUser(b *testing.B) {
	storetest.BenchGetSessionWithUser(b, func(b *testing.B) store.Store { return open(b) })
}

// TestStatementsBeforeMigrate checks that the prepared statements, which
// cannot be prepared before the tables exist, are prepared once they do:
// a failed preparation is not kept.
func TestStatementsBeforeMigrate(t *testing.T) {
	ctx := t.Context()
	db := open(t)
	if _, err := db.GetUser(ctx, "00000000-0000-0000-0000-000000000001"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetUser before Migrate: got %v, want an error other than ErrNotFound", err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if _, err := db.GetUser(ctx, "00000000-0000-0000-0000-000000000001"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetUser after Migrate: got %v, want ErrNotFound", err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := db.GetUser(ctx, "00000000-0000-0000-0000-000000000001"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetUser after Close: got %v, want an error other than ErrNotFound", err)
	}
}
