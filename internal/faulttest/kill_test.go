package faulttest

import (
	"database/sql"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/latchauth/latch/internal/e2e"
)

// TestKillDuringMixedLoad kills latch with SIGKILL while eight clients
// sign up, sign in, refresh and sign out on SQLite, restarts it on the
// same file and checks that everything the clients were told survived,
// that nothing half-done shows, and that the file is sound.
func TestKillDuringMixedLoad(t *testing.T) {
	const grace = time.Minute // the longest latch allows; see verify
	dir := t.TempDir()
	env := []string{
		"LATCH_RATE_LIMIT=off",
		"LATCH_ADMIN_KEY=" + adminKey,
		"LATCH_SECRET_KEY=" + secretKey,
		"LATCH_REFRESH_REUSE_GRACE=" + grace.String(),
	}
	p := e2e.Start(t, dir, env...)
	l := startLoad(t, newClient(t, p.URL), 8)
	l.waitAcked(t, 250, time.Second, 30*time.Second, 50)
	// A random moment, so that over runs the kill lands in every phase of
	// a request: before its transaction, inside it, after the commit.
	time.Sleep(time.Duration(rand.IntN(200)) * time.Millisecond)
	if err := p.Cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	fault := time.Now()
	if err := p.Wait(10 * time.Second); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("latch after SIGKILL: %v, want killed", err)
	}
	l.wait(t, 40*time.Second)
	t.Logf("killed after %v: %s", fault.Sub(l.started).Round(time.Millisecond), l.summary())

	q := e2e.Start(t, dir, env...)
	t.Logf("restarted and listening %v after the kill", time.Since(fault).Round(time.Millisecond))
	c := newClient(t, q.URL)
	if !c.ready(30 * time.Second) {
		t.Fatalf("not ready after restart; logs:\n%s", q.Logs())
	}
	verify(t, c, l, fault, grace)
	q.Stop(t)
	checkSQLite(t, filepath.Join(dir, "latch.db"))
	if t.Failed() {
		t.Logf("logs after restart:\n%s", q.Logs())
	}
}

// checkSQLite opens a database file that no process is using and checks
// that SQLite finds it sound: integrity_check says ok, and no row breaks
// a foreign key.
func checkSQLite(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("PRAGMA integrity_check")
	if err != nil {
		t.Fatalf("integrity_check: %v", err)
	}
	var res []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		res = append(res, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if len(res) != 1 || res[0] != "ok" {
		t.Errorf("PRAGMA integrity_check: got %q, want [ok]", res)
	}
	rows, err = db.Query("PRAGMA foreign_key_check")
	if err != nil {
		t.Fatalf("foreign_key_check: %v", err)
	}
	defer rows.Close()
	for rows.Next() {
		var table, parent string
		var rowid sql.NullInt64
		var fk int
		if err := rows.Scan(&table, &rowid, &parent, &fk); err != nil {
			t.Fatal(err)
		}
		t.Errorf("foreign_key_check: row %v of %s points to a missing %s", rowid, table, parent)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}
