package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"time"

	"github.com/pressly/goose/v3"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/latchauth/latch/internal/store"
	"github.com/latchauth/latch/internal/store/migration"
)

// migrations holds the schema, forward-only and numbered like the
// PostgreSQL backend's, so that one version means the same schema on both.
//
//go:embed migrations/*.sql
var migrations embed.FS

// migrateLockSuffix names the migration lock file beside the database.
// It stays after a migration, empty and 0600: deleting it would break the
// lock, since a process already waiting on the old file and one creating
// a new file could then both hold "the" lock.
const migrateLockSuffix = "-migrate-lock"

// migrateLockWait bounds how long Migrate waits for another process that is
// migrating the same file.
const migrateLockWait = 5 * time.Minute

func (db *DB) provider(context.Context) (*goose.Provider, error) {
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
// lock on a companion file (the database path plus "-migrate-lock", mode
// 0600), which the operating system releases if a process dies holding it.
func (db *DB) Migrate(ctx context.Context) error {
	unlock, err := db.lockMigrations(ctx)
	if err != nil {
		return wrap("migrate: lock", err)
	}
	defer unlock()

	if err := migration.Up(ctx, db.provider); err != nil {
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
	// Created 0600 before SQLite opens it, which would make it 0644 less
	// the umask, like the database itself (see private).
	if err := private(db.path + migrateLockSuffix); err != nil {
		return nil, err
	}
	lk, err := sql.Open("sqlite", db.path+migrateLockSuffix+"?_busy_timeout=250&_txlock=exclusive")
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
	st, err := migration.Status(ctx, db.provider)
	if err != nil {
		return st, wrap("migration status", err)
	}
	return st, nil
}
