// Package migration holds what both database backends do alike around
// goose: refuse a database newer than the binary, apply pending
// migrations, and describe the schema as a store.MigrationStatus.
//
// It does not open databases, embed migrations or take locks: each
// backend does those its own way and hands over its goose.Provider.
package migration

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/pressly/goose/v3"

	"github.com/latchauth/latch/internal/store"
)

// Open returns a backend's goose provider for its database.
type Open func(context.Context) (*goose.Provider, error)

// Up applies every pending migration, refusing (with an error wrapping
// store.ErrDatabaseTooNew) a database ahead of the binary.
func Up(ctx context.Context, open Open) error {
	p, err := open(ctx)
	if err != nil {
		return err
	}
	current, err := p.GetDBVersion(ctx)
	if err != nil {
		return err
	}
	if err := notAhead(current, Latest(p)); err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}

// Status lists every embedded migration with when it was applied. If the
// database is ahead of the binary it returns the status together with an
// error wrapping store.ErrDatabaseTooNew.
func Status(ctx context.Context, open Open) (store.MigrationStatus, error) {
	p, err := open(ctx)
	if err != nil {
		return store.MigrationStatus{}, err
	}
	current, err := p.GetDBVersion(ctx)
	if err != nil {
		return store.MigrationStatus{}, err
	}
	list, err := p.Status(ctx)
	if err != nil {
		return store.MigrationStatus{}, err
	}
	st := store.MigrationStatus{Current: current, Latest: Latest(p)}
	for _, m := range list {
		mig := store.Migration{Version: m.Source.Version, Name: Name(m.Source.Path)}
		if m.State == goose.StateApplied {
			// Both backends record UTC: SQLite's datetime('now') is UTC and
			// the PostgreSQL backend sets its session time zone to UTC.
			mig.AppliedAt = m.AppliedAt.UTC()
		}
		st.Migrations = append(st.Migrations, mig)
	}
	return st, notAhead(st.Current, st.Latest)
}

func notAhead(current, latest int64) error {
	if current > latest {
		return fmt.Errorf("database is at version %d, this binary knows up to %d: %w", current, latest, store.ErrDatabaseTooNew)
	}
	return nil
}

// Latest is the highest version embedded in the binary.
func Latest(p *goose.Provider) int64 {
	sources := p.ListSources()
	return sources[len(sources)-1].Version // goose refuses an empty set
}

// Name turns "00001_init.sql" into "init".
func Name(file string) string {
	name := strings.TrimSuffix(path.Base(file), ".sql")
	if _, rest, ok := strings.Cut(name, "_"); ok {
		return rest
	}
	return name
}
