package sqlitetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/latchauth/latch/internal/store/sqlite"
)

// Open opens a store on a new database file in tb's temporary directory,
// migrates it, and registers its Close with tb.Cleanup; it stops the test
// if either step fails.
func Open(tb testing.TB) *sqlite.DB {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "latch.db"))
	if err != nil {
		tb.Fatalf("sqlitetest: open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		tb.Fatalf("sqlitetest: migrate: %v", err)
	}
	return db
}
