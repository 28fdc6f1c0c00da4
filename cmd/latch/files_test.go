package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchauth/latch/internal/e2e"
)

// The SQLite database holds password hashes, sealed signing keys and the
// audit trail: its files (the database, its WAL and shared-memory files
// and the migration lock) are created 0600 like latch.secret, files left
// 0644 by an older latch are tightened at start, and a directory that
// every user may write to is refused, since anyone could plant or swap
// the files in it. OWASP ASVS 5.0 V13.3.x (secrets and sensitive data
// protected at rest); CWE-732 (incorrect permission assignment).
func TestDatabaseFilesPrivate(t *testing.T) {
	dir := t.TempDir()
	files := []string{"latch.db", "latch.db-wal", "latch.db-shm", "latch.db-migrate-lock", "latch.secret"}
	check := func(when string) {
		t.Helper()
		for _, f := range files {
			fi, err := os.Stat(filepath.Join(dir, f))
			if err != nil {
				t.Errorf("%s: %s: %v", when, f, err)
				continue
			}
			if got := fi.Mode().Perm(); got != 0o600 {
				t.Errorf("%s: %s mode: got %v, want -rw------- (0600)", when, f, got)
			}
		}
	}
	p := e2e.Start(t, dir)
	e2e.Expect(t, "signup", e2e.Do(t, "POST", p.URL+"/v1/signup", "", map[string]any{"email": "files@example.com", "password": "a long and lovely passphrase"}), 201)
	check("first start")
	p.Stop(t)

	// Files an older latch left readable by everyone are tightened.
	for _, f := range files {
		if err := os.Chmod(filepath.Join(dir, f), 0o644); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	p = e2e.Start(t, dir)
	e2e.Expect(t, "login", e2e.Do(t, "POST", p.URL+"/v1/token", "", map[string]any{"grant_type": "password", "email": "files@example.com", "password": "a long and lovely passphrase"}), 200)
	check("restart over 0644 files")
	p.Stop(t)

	// A world-writable directory is refused, by every command.
	if err := os.Chmod(dir, 0o777|fs.ModeSticky); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	out, code := e2e.RunCLI(t, dir, nil, "", "migrate", "status")
	if code != 1 || !strings.Contains(out, "writable by every user") {
		t.Errorf("world-writable directory: exit %d, output %q; want exit 1 naming the problem", code, out)
	}
}
