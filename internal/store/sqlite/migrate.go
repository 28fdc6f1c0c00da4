package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/latchauth/latch/internal/store"
)

// migrations holds the schema, forward-only and numbered like the
// PostgreSQL backend's, so that one version means the same schema on both.
//
//go:embed migrations/*.sql
var migrations embed.FS

// migrateLockWait bounds how long Migrate waits for another process that is
// migrating the same file.
const migrateLockWait = 5 * time.Minute

func (db *DB) provider() (*goose.Provider, error) {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	// The writer pool: goose's transactions then begin IMMEDIATE like
	// every other write, and queue behind them.
	return goose.NewProvider(goose.DialectSQLite3, db.write, fsys, goose.WithDisableGlobalRegistry(true))
}

// Migrate applies every pending migration, each in its own transaction.
// It returns an error wrapping store.ErrDatabaseTooNew, and changes
// nothing, if the database has a migration this binary does not know.
//
// Several processes may call it at once: they take turns on an exclusive
// lock on a companion file (the database path plus "-migrate-lock"), which
// the operating system releases if a process dies holding it.
func (db *DB) Migrate(ctx context.Context) error {
	unlock, err := db.lockMigrations(ctx)
	if err != nil {
		return wrap("migrate: lock", err)
	}
	defer unlock()

	p, err := db.provider()
	if err != nil {
		return wrap("migrate", err)
	}
	current, err := p.GetDBVersion(ctx)
	if err != nil {
		return wrap("migrate", err)
	}
	if latest := latestVersion(p); current > latest {
		return fmt.Errorf("sqlite: migrate: database is at version %d, this binary knows up to %d: %w",
			current, latest, store.ErrDatabaseTooNew)
	}
	if _, err := p.Up(ctx); err != nil {
		return wrap("migrate", err)
	}
	return nil
}

// lockMigrations takes an exclusive SQLite lock on the companion lock file
// and returns the function that releases it. SQLite has no advisory locks,
// and a lock row in the database itself would outlive a crashed holder;
// a file lock dies with its process.
func (db *DB) lockMigrations(ctx context.Context) (unlock func(), err error) {
	ctx, cancel := context.WithTimeout(ctx, migrateLockWait)
	defer cancel()
	lk, err := sql.Open("sqlite", db.path+"-migrate-lock?_busy_timeout=250&_txlock=exclusive")
	if err != nil {
		return nil, err
	}
	lk.SetMaxOpenConns(1)
	for {
		// Not ctx: database/sql rolls a transaction back when its context
		// ends, which would drop the lock as soon as this function returns.
		// The busy handler waits a quarter second at a time, and ctx is checked
		// between attempts.
		tx, err := lk.BeginTx(context.WithoutCancel(ctx), nil)
		if err == nil {
			return func() {
				tx.Rollback()
				lk.Close()
			}, nil
		}
		if !isCode(err, sqlite3.SQLITE_BUSY) {
			lk.Close()
			return nil, err
		}
		if ctx.Err() != nil {
			lk.Close()
			return nil, fmt.Errorf("another process is migrating: %w", ctx.Err())
		}
	}
}

// MigrationStatus lists every embedded migration with when it was applied.
// If the database is newer than the binary it returns the status together
// with an error wrapping store.ErrDatabaseTooNew.
func (db *DB) MigrationStatus(ctx context.Context) (store.MigrationStatus, error) {
	p, err := db.provider()
	if err != nil {
		return store.MigrationStatus{}, wrap("migration status", err)
	}
	current, err := p.GetDBVersion(ctx)
	if err != nil {
		return store.MigrationStatus{}, wrap("migration status", err)
	}
	list, err := p.Status(ctx)
	if err != nil {
		return store.MigrationStatus{}, wrap("migration status", err)
	}
	st := store.MigrationStatus{Current: current, Latest: latestVersion(p)}
	for _, m := range list {
		mig := store.Migration{Version: m.Source.Version, Name: migrationName(m.Source.Path)}
		if m.State == goose.StateApplied {
			// goose's tstamp is datetime('now'): UTC.
			mig.AppliedAt = m.AppliedAt.UTC()
		}
		st.Migrations = append(st.Migrations, mig)
	}
	if st.Current > st.Latest {
		return st, fmt.Errorf("sqlite: migration status: database is at version %d, this binary knows up to %d: %w",
			st.Current, st.Latest, store.ErrDatabaseTooNew)
	}
	return st, nil
}

func latestVersion(p *goose.Provider) int64 {
	sources := p.ListSources()
	return sources[len(sources)-1].Version // goose refuses an empty set
}

// migrationName turns "00001_init.sql" into "init".
func migrationName(file string) string {
	name := strings.TrimSuffix(path.Base(file), ".sql")
	if _, rest, ok := strings.Cut(name, "_"); ok {
		return rest
	}
	return name
}
