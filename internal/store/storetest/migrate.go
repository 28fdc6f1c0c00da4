package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchauth/latch/internal/store"
)

// checkStatus checks the shape every MigrationStatus must have, and that
// the migrations are all applied (or all pending).
func checkStatus(t *testing.T, st store.MigrationStatus, applied bool) {
	t.Helper()
	if len(st.Migrations) == 0 {
		t.Fatalf("MigrationStatus lists no migrations")
	}
	if st.Latest < 1 {
		t.Errorf("Latest = %d, want >= 1", st.Latest)
	}
	if last := st.Migrations[len(st.Migrations)-1].Version; last != st.Latest {
		t.Errorf("last migration is version %d, want Latest (%d)", last, st.Latest)
	}
	wantCurrent := int64(0)
	if applied {
		wantCurrent = st.Latest
	}
	if st.Current != wantCurrent {
		t.Errorf("Current = %d, want %d", st.Current, wantCurrent)
	}
	// Every dialect has the same history.
	var names []store.Migration
	for _, m := range st.Migrations {
		names = append(names, store.Migration{Version: m.Version, Name: m.Name})
	}
	if d := cmp.Diff(migrations, names); d != "" {
		t.Errorf("migrations (-want +got):\n%s", d)
	}
	var prev int64
	for _, m := range st.Migrations {
		if m.Version <= prev {
			t.Errorf("migration version %d follows %d, want ascending", m.Version, prev)
		}
		prev = m.Version
		if m.Name == "" {
			t.Errorf("migration %d has no name", m.Version)
		}
		switch {
		case !applied && !m.AppliedAt.IsZero():
			t.Errorf("migration %d AppliedAt = %v before Migrate, want zero", m.Version, m.AppliedAt)
		case applied && m.AppliedAt.IsZero():
			t.Errorf("migration %d AppliedAt is zero after Migrate", m.Version)
		case applied && m.AppliedAt.Location() != time.UTC:
			t.Errorf("migration %d AppliedAt location = %v, want UTC", m.Version, m.AppliedAt.Location())
		// Loose: some databases record it in their own time zone.
		case applied && time.Since(m.AppliedAt).Abs() > 24*time.Hour:
			t.Errorf("migration %d AppliedAt = %v, want about now", m.Version, m.AppliedAt)
		}
	}
}

func testStatusBeforeMigrate(t *testing.T, s store.Store) {
	st, err := s.MigrationStatus(t.Context())
	must(t, "MigrationStatus", err)
	checkStatus(t, st, false)
}

func testMigrations(t *testing.T, s store.Store) {
	ctx := t.Context()
	st, err := s.MigrationStatus(ctx)
	must(t, "MigrationStatus", err)
	checkStatus(t, st, true)

	must(t, "Migrate again", s.Migrate(ctx))
	again, err := s.MigrationStatus(ctx)
	must(t, "MigrationStatus", err)
	if d := cmp.Diff(st, again); d != "" {
		t.Errorf("status changed by a second Migrate (-before +after):\n%s", d)
	}
}

// testConcurrentMigrate migrates one unmigrated database from several
// stores at once, as instances starting together do.
func testConcurrentMigrate(t *testing.T, stores []store.Store) {
	ctx := t.Context()
	const n = 4
	errs := make([]error, n)
	race(n, func(i int) { errs[i] = stores[i%len(stores)].Migrate(ctx) })
	noErrors(t, "Migrate", errs)
	var first store.MigrationStatus
	for i, s := range stores {
		st, err := s.MigrationStatus(ctx)
		if err != nil {
			t.Fatalf("MigrationStatus on store %d: %v", i, err)
		}
		checkStatus(t, st, true)
		if i == 0 {
			first = st
		} else if d := cmp.Diff(first, st); d != "" {
			t.Errorf("stores disagree on the status (-store 0 +store %d):\n%s", i, d)
		}
	}
}
