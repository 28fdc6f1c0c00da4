package faulttest

import (
	"context"
	"database/sql"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/e2e"
)

// TestSQLiteWriteLocked holds SQLite's write lock from outside latch (as
// another process on the same file would: a backup, a second latch, a
// long `latch user` command) so that latch's writes hang instead of
// failing. Reads go on (WAL); every request must still be answered
// within LATCH_REQUEST_TIMEOUT, writes with 503 and Retry-After; once the
// lock is released latch writes again, and the writes that failed left
// nothing behind.
func TestSQLiteWriteLocked(t *testing.T) {
	const (
		requestTimeout = 2 * time.Second
		slack          = 1500 * time.Millisecond
		email          = "locked@fault.example.com"
		pw             = "a passphrase behind a lock"
	)
	dir := t.TempDir()
	p := e2e.Start(t, dir,
		"LATCH_SECRET_KEY="+secretKey,
		"LATCH_ADMIN_KEY="+adminKey,
		"LATCH_RATE_LIMIT=off",
		"LATCH_REQUEST_TIMEOUT="+requestTimeout.String(),
	)
	c := newClient(t, p.URL)
	r := c.do(t, "POST", "/v1/signup", "", map[string]any{"email": email, "password": pw})
	if r.Status != http.StatusCreated {
		t.Fatalf("signup: %s", r)
	}
	ch := chainOf(r)

	// The lock: BEGIN IMMEDIATE on a connection of the test's own, held
	// until released (at the latest when the test ends).
	db, err := sql.Open("sqlite", filepath.Join(dir, "latch.db")+"?_busy_timeout=5000&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatalf("take the write lock: %v", err)
	}
	var once sync.Once
	release := func() { once.Do(func() { _ = tx.Rollback() }) }
	defer release()

	limit := requestTimeout + slack
	probes := []probe{
		{"signup", "POST", "/v1/signup", "", map[string]any{"email": "second@fault.example.com", "password": pw}, 503},
		{"sign-in", "POST", "/v1/token", "", map[string]any{"grant_type": "password", "email": email, "password": pw}, 503},
		{"sign-in with a wrong password", "POST", "/v1/token", "", map[string]any{"grant_type": "password", "email": email, "password": "not the passphrase at all"}, 400},
		{"refresh", "POST", "/v1/token", "", map[string]any{"grant_type": "refresh_token", "refresh_token": ch.latest()}, 503},
		{"GET /v1/user", "GET", "/v1/user", ch.access, nil, 200},
		{"GET /v1/sessions", "GET", "/v1/sessions", ch.access, nil, 200},
		{"introspection", "POST", "/v1/introspect", adminKey, map[string]any{"token": ch.latest()}, 200},
		{"/healthz", "GET", "/healthz", "", nil, 200},
	}
	var wg sync.WaitGroup
	sendProbes(t, &wg, c, probes, " while another connection holds the write lock", limit)
	wg.Wait()
	release()

	// Writes work again, and the failed ones changed nothing: the refresh
	// token is still the live one, the email of the failed signup is free.
	var last reply
	if !waitFor(10*time.Second, 100*time.Millisecond, func() bool {
		last, err = c.refresh(ch.latest())
		return err == nil && last.Status == http.StatusOK
	}) {
		t.Fatalf("refresh after the lock was released: %s %v; logs:\n%s", last, err, p.Logs())
	}
	r, err = c.signup("second@fault.example.com", pw)
	expectStatus(t, "signup of the email whose signup failed", r, err, http.StatusCreated)
	r, err = c.login(email, pw)
	expectStatus(t, "sign-in after the lock was released", r, err, http.StatusOK)
	p.Stop(t)
	if t.Failed() {
		t.Logf("latch logs:\n%s", p.Logs())
	}
}
