package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

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

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

func TestShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		url := pgtest.URL(t)
		a, err := Open(t.Context(), url)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		b, err := Open(t.Context(), url)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return a, b
	})
}

func TestUpgrade(t *testing.T) {
	storetest.RunUpgrade(t, func(t *testing.T) storetest.Upgrade {
		db := open(t)
		return storetest.Upgrade{
			Store: db,
			MigrateTo: func(ctx context.Context, version int64) error {
				p, err := db.provider(ctx)
				if err != nil {
					return err
				}
				_, err = p.UpTo(ctx, version)
				return err
			},
			Seed1: func(ctx context.Context, rows storetest.Rows1) error { return seed1(ctx, db.pool, rows) },
			Seed3: func(ctx context.Context, tokens []store.OneTimeToken) error { return seed3(ctx, db.pool, tokens) },
		}
	})
}

// The seeds write rows as the latch of their schema version did, with
// SQL of their own: the package's current statements and encoders may
// have changed since. A zero time in a nullable column is NULL, and so is
// an empty bytea; AMR is a text[], never NULL.

// v1Time encodes a time for a nullable timestamptz of version 1.
func v1Time(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// v1Bytes encodes a nullable bytea of version 1.
func v1Bytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// seed1 writes rows with the SQL of schema version 1.
func seed1(ctx context.Context, pool *pgxpool.Pool, rows storetest.Rows1) error {
	var b pgx.Batch
	for _, u := range rows.Users {
		b.Queue(`INSERT INTO users (id, email, email_verified, password_hash, metadata, disabled,
			created_at, updated_at, last_sign_in_at, password_changed_at)
			VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10)`,
			u.ID, u.Email, u.EmailVerified, u.PasswordHash, string(u.Metadata), u.Disabled,
			u.CreatedAt, u.UpdatedAt, v1Time(u.LastSignInAt), v1Time(u.PasswordChangedAt))
	}
	for _, s := range rows.Sessions {
		amr := s.AMR
		if amr == nil {
			amr = []string{}
		}
		b.Queue(`INSERT INTO sessions (id, user_id, created_at, last_active_at, expires_at, revoked_at,
			user_agent, ip, amr, aal, refresh_hash, parent_hash, rotated_at, generation)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			s.ID, s.UserID, s.CreatedAt, s.LastActiveAt, s.ExpiresAt, v1Time(s.RevokedAt),
			s.UserAgent, s.IP, amr, s.AAL, s.RefreshHash, v1Bytes(s.ParentHash), s.RotatedAt, s.Generation)
	}
	for _, r := range rows.RefreshTokens {
		b.Queue(`INSERT INTO refresh_tokens (hash, session_id, issued_at) VALUES ($1, $2, $3)`,
			r.Hash, r.SessionID, r.IssuedAt)
	}
	for _, k := range rows.Keys {
		b.Queue(`INSERT INTO signing_keys (id, algorithm, state, sealed_key, public_key,
			created_at, activated_at, deactivate_at, retire_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			k.ID, k.Algorithm, string(k.State), k.SealedKey, k.PublicKey,
			k.CreatedAt, v1Time(k.ActivatedAt), v1Time(k.DeactivateAt), v1Time(k.RetireAt))
	}
	for _, th := range rows.Throttles {
		b.Queue(`INSERT INTO throttles (key, failures, last_failure_at, blocked_until) VALUES ($1, $2, $3, $4)`,
			th.Key, th.Failures, v1Time(th.LastFailureAt), v1Time(th.BlockedUntil))
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		return tx.SendBatch(ctx, &b).Close()
	})
}

// seed3 writes one-time tokens with the SQL of schema version 3.
func seed3(ctx context.Context, pool *pgxpool.Pool, tokens []store.OneTimeToken) error {
	for _, t := range tokens {
		if _, err := pool.Exec(ctx, `INSERT INTO one_time_tokens (id, user_id, purpose, email, new_email,
			hash, code_hash, created_at, expires_at, used_at, attempts)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			t.ID, t.UserID, string(t.Purpose), t.Email, t.NewEmail,
			t.Hash, v1Bytes(t.CodeHash), t.CreatedAt, t.ExpiresAt, v1Time(t.UsedAt), t.Attempts); err != nil {
			return err
		}
	}
	return nil
}

func BenchmarkRotate(b *testing.B) {
	storetest.BenchRotate(b, func(b *testing.B) store.Store { return open(b) })
}

// TestSchemaIsolation checks that the search_path in pgtest's URL reaches
// every query, goose's included: the version table and the schema live in
// the test's schema, not in public.
func TestSchemaIsolation(t *testing.T) {
	ctx := t.Context()
	db := open(t)
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	var schema string
	if err := db.pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"goose_db_version", "users", "sessions", "refresh_tokens", "signing_keys", "throttles", "audit_events",
		"one_time_tokens", "mail_outbox"} {
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
	ctx := t.Context()
	db := open(t)
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	// As if a newer latch had migrated this database.
	if _, err := db.pool.Exec(ctx,
		`INSERT INTO goose_db_version (version_id, is_applied) VALUES (99999, true)`); err != nil {
		t.Fatal(err)
	}
	err := db.Migrate(ctx)
	if !errors.Is(err, store.ErrDatabaseTooNew) {
		t.Errorf("Migrate: got %v, want ErrDatabaseTooNew", err)
	}
	st, err := db.MigrationStatus(ctx)
	if !errors.Is(err, store.ErrDatabaseTooNew) {
		t.Errorf("MigrationStatus: got %v, want ErrDatabaseTooNew", err)
	}
	if st.Current != 99999 {
		t.Errorf("MigrationStatus.Current = %d, want 99999", st.Current)
	}
}

func TestUnavailable(t *testing.T) {
	// Nothing listens on port 1.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := Open(ctx, "postgres://latch@127.0.0.1:1/latch?sslmode=disable&connect_timeout=2")
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Open(unreachable): got %v, want ErrUnavailable", err)
	}

	db := open(t)
	defer db.Close()
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
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
	db := open(t)
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
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
