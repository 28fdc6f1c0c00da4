package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchauth/latch/internal/store"
	"github.com/latchauth/latch/internal/store/postgres/pgtest"
	"github.com/latchauth/latch/internal/store/storetest"
)

// open opens a store on a new schema of the test database.
func open(tb testing.TB) *DB {
	tb.Helper()
	db, err := Open(context.Background(), pgtest.URL(tb))
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	// Small batches, so that the suite's few rows take several.
	db.cleanupBatch = 3
	return db
}

// openMigrated opens a store as open does, migrates it, and closes it
// when the test ends.
func openMigrated(t *testing.T) *DB {
	t.Helper()
	db := open(t)
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

func TestShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		url := pgtest.URL(t)
		return storetest.OpenTwice(t, func(ctx context.Context) (store.Store, error) { return Open(ctx, url) })
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
// (timestamptz) and the AMR (a text[]).
var v1Encoding = storetest.SeedEncoding{
	Time: func(t time.Time) any { return t },
	AMR:  func(amr []string) any { return amr },
}

// seed inserts rows in one transaction, with SQL of its own: the
// package's current statements may have changed since the rows' schema
// version.
func (db *DB) seed(ctx context.Context, rows []storetest.SeedRow) error {
	var b pgx.Batch
	for _, r := range rows {
		b.Queue(r.InsertSQL(), r.Values...)
	}
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		return tx.SendBatch(ctx, &b).Close()
	})
}

func BenchmarkRotate(b *testing.B) {
	storetest.BenchRotate(b, func(b *testing.B) store.Store { return open(b) })
}

// TestSchemaIsolation checks that the search_path in pgtest's URL reaches
// every query, goose's included: the version table and the schema live in
// the test's schema, not in public.
func TestSchemaIsolation(t *testing.T) {
	ctx := t.Context()
	db := openMigrated(t)
	var schema string
	if err := db.pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"goose_db_version", "users", "sessions", "refresh_tokens", "signing_keys", "throttles", "audit_events",
		"one_time_tokens", "mail_outbox", "factors"} {
		var got string
		err := db.pool.QueryRow(ctx, `SELECT table_schema FROM information_schema.tables WHERE table_name = $1 AND table_schema = $2`,
			table, schema).Scan(&got)
		if err != nil {
			t.Errorf("table %s in schema %s: %v", table, schema, err)
		}
	}
}

func TestOpenDoesNotMigrate(t *testing.T) {
	db := open(t)
	defer db.Close()
	var n int
	err := db.pool.QueryRow(t.Context(), `SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("Open created %d tables, want 0", n)
	}
}

func TestDatabaseTooNew(t *testing.T) {
	db := open(t)
	defer db.Close()
	storetest.CheckDatabaseTooNew(t, db, func(ctx context.Context) error {
		_, err := db.pool.Exec(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES (99999, true)`)
		return err
	})
}

func TestUnavailable(t *testing.T) {
	// Nothing listens on port 1.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := Open(ctx, "postgres://latch@127.0.0.1:1/latch?sslmode=disable&connect_timeout=2")
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Open(unreachable): got %v, want ErrUnavailable", err)
	}

	db := openMigrated(t)
	// A row locked by another transaction past lock_timeout.
	tx, err := db.pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(t.Context(), `LOCK TABLE signing_keys IN EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	short, cancel2 := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel2()
	err = db.UpdateSigningKeys(short, func(keys []store.SigningKey) ([]store.SigningKey, error) { return nil, nil })
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("UpdateSigningKeys past its deadline: got %v, want ErrUnavailable", err)
	}
}

func TestOpenMalformedURL(t *testing.T) {
	_, err := Open(t.Context(), "postgres://latch:s3cret@[::1/latch")
	if err == nil {
		t.Fatal("Open(malformed URL): got nil error, want one")
	}
	if msg := err.Error(); strings.Contains(msg, "s3cret") {
		t.Errorf("Open(malformed URL) error %q quotes the password", msg)
	}
}

// TestUpdateThrottleRowDeleted: a clean-up deletes a throttle row while
// UpdateThrottle waits for its lock. UpdateThrottle must then start the
// key again from zero, not fail because the row it was waiting for is
// gone.
func TestUpdateThrottleRowDeleted(t *testing.T) {
	ctx := t.Context()
	db := openMigrated(t)
	const key = "account:user1@example.com"
	old := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := db.UpdateThrottle(ctx, key, func(th *store.Throttle) error {
		th.Failures, th.LastFailureAt = 5, old
		return nil
	}); err != nil {
		t.Fatalf("UpdateThrottle: %v", err)
	}

	// What DeleteThrottlesBefore does, held open half way: the row is
	// locked, not yet deleted.
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	var pid int32
	if err := tx.QueryRow(ctx, `SELECT pg_backend_pid() FROM throttles WHERE key = $1 FOR UPDATE`, key).Scan(&pid); err != nil {
		t.Fatal(err)
	}

	type result struct {
		th   store.Throttle
		seen store.Throttle
		err  error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		r.th, r.err = db.UpdateThrottle(ctx, key, func(th *store.Throttle) error {
			r.seen = *th
			th.Failures++
			th.LastFailureAt = old.Add(time.Hour)
			return nil
		})
		done <- r
	}()

	// Wait until UpdateThrottle queues on the lock.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		err := db.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))`, pid).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("UpdateThrottle did not wait for the locked row")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM throttles WHERE key = $1`, key); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	r := <-done
	if r.err != nil {
		t.Fatalf("UpdateThrottle on a row deleted while it waited: %v", r.err)
	}
	if want := (store.Throttle{Key: key}); r.seen != want {
		t.Errorf("fn saw %+v, want %+v", r.seen, want)
	}
	if r.th.Failures != 1 {
		t.Errorf("Failures = %d, want 1", r.th.Failures)
	}
}
