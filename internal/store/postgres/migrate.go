package postgres

import (
	"context"
	"embed"
	"errors"
	"hash/fnv"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/latchauth/latch/internal/store"
	"github.com/latchauth/latch/internal/store/migration"
)

// migrations holds the schema, forward-only and numbered like the SQLite
// backend's, so that one version means the same schema on both.
//
//go:embed migrations/*.sql
var migrations embed.FS

// provider returns a goose provider for the schema that the connection's
// search_path selects. goose creates its version table there too, since
// its queries use unqualified names.
func (db *DB) provider(ctx context.Context) (*goose.Provider, error) {
	var database, schema string
	err := db.pool.QueryRow(ctx, `SELECT current_database(), coalesce(current_schema(), '')`).Scan(&database, &schema)
	if err != nil {
		return nil, err
	}
	if schema == "" {
		return nil, errors.New("no schema on the search_path exists")
	}
	// goose's session locker takes a session-level advisory lock, so that
	// processes migrating at once take turns. Advisory lock numbers are
	// per database, not per schema: one derived from the schema keeps
	// latch databases in different schemas (tests run in parallel that
	// way) from queueing behind each other. Waiters poll every second, up
	// to five minutes.
	h := fnv.New64a()
	h.Write([]byte("latch migrations\x00" + database + "\x00" + schema))
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(int64(h.Sum64())), lock.WithLockTimeout(1, 300))
	if err != nil {
		return nil, err
	}
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectPostgres, db.sqlDB, fsys,
		goose.WithSessionLocker(locker), goose.WithDisableGlobalRegistry(true))
}

// Migrate applies every pending migration, each in its own transaction.
// It returns an error wrapping store.ErrDatabaseTooNew, and changes
// nothing, if the database has a migration this binary does not know.
// Several processes may call it at once (see provider).
func (db *DB) Migrate(ctx context.Context) error {
	if err := migration.Up(ctx, db.provider); err != nil {
		return wrap("migrate", err)
	}
	return nil
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
