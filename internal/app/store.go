package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/latchauth/latch/internal/config"
	"github.com/latchauth/latch/internal/store"
	"github.com/latchauth/latch/internal/store/postgres"
	"github.com/latchauth/latch/internal/store/sqlite"
)

// OpenStore opens the configured database. It does not migrate.
func OpenStore(ctx context.Context, cfg config.Config) (store.Store, error) {
	switch cfg.Database.Kind {
	case config.SQLite:
		return sqlite.Open(ctx, cfg.Database.DSN)
	case config.Postgres:
		return postgres.Open(ctx, cfg.Database.DSN)
	}
	return nil, errors.New("database_url: want sqlite:PATH or postgres://USER@HOST/DB") // config.Load refuses it first
}

// prepareSchema applies pending migrations when asked, then refuses a
// database that is newer than the binary or, when latch was told not to
// migrate, one with pending migrations.
func prepareSchema(ctx context.Context, db store.Store, migrate bool) error {
	if migrate {
		if err := db.Migrate(ctx); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	st, err := db.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	switch {
	case st.Current > st.Latest:
		return fmt.Errorf("%w: database at version %d, this binary knows up to %d; upgrade latch", store.ErrDatabaseTooNew, st.Current, st.Latest)
	case st.Current < st.Latest:
		return fmt.Errorf("%w: database at version %d, this binary needs %d; run 'latch migrate up'", store.ErrMigrationsPending, st.Current, st.Latest)
	}
	return nil
}
