package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchauth/latch/internal/e2e"
	"github.com/latchauth/latch/internal/store/postgres/pgtest"
)

// walk drives the whole flow: signup → login → user → refresh → re-use
// detection → logout → refused, then reads the metrics listener.
func walk(t *testing.T, p *e2e.Proc) {
	url := p.URL
	const email, pw = "walker@example.com", "a long and lovely passphrase"
	r := e2e.Expect(t, "signup", e2e.Do(t, "POST", url+"/v1/signup", "", map[string]any{"email": email, "password": pw}), 201)
	if r.Body["refresh_token"] == nil {
		t.Fatalf("signup answer: %v", r.Body)
	}
	r = e2e.Expect(t, "login", e2e.Do(t, "POST", url+"/v1/token", "", map[string]any{"grant_type": "password", "email": email, "password": pw}), 200)
	access, refresh := r.Body["access_token"].(string), r.Body["refresh_token"].(string)
	r = e2e.Expect(t, "user", e2e.Do(t, "GET", url+"/v1/user", access, nil), 200)
	if r.Body["email"] != email {
		t.Fatalf("user: %v", r.Body)
	}
	r = e2e.Expect(t, "refresh", e2e.Do(t, "POST", url+"/v1/token", "", map[string]any{"grant_type": "refresh_token", "refresh_token": refresh}), 200)
	access2, refresh2 := r.Body["access_token"].(string), r.Body["refresh_token"].(string)
	e2e.Expect(t, "refresh again", e2e.Do(t, "POST", url+"/v1/token", "", map[string]any{"grant_type": "refresh_token", "refresh_token": refresh2}), 200)
	// refresh is now a grandparent: re-use revokes the session.
	r = e2e.Expect(t, "re-use", e2e.Do(t, "POST", url+"/v1/token", "", map[string]any{"grant_type": "refresh_token", "refresh_token": refresh}), 400)
	if r.Body["error"] != "invalid_grant" {
		t.Fatalf("re-use: %v", r.Body)
	}
	e2e.Expect(t, "access token of the revoked session", e2e.Do(t, "GET", url+"/v1/user", access2, nil), 401)

	r = e2e.Expect(t, "login 2", e2e.Do(t, "POST", url+"/v1/token", "", map[string]any{"grant_type": "password", "email": email, "password": pw}), 200)
	access3 := r.Body["access_token"].(string)
	e2e.Expect(t, "logout", e2e.Do(t, "POST", url+"/v1/logout", access3, map[string]any{"scope": "global"}), 204)
	r = e2e.Expect(t, "after logout", e2e.Do(t, "GET", url+"/v1/user", access3, nil), 401)
	if !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("WWW-Authenticate: %q", r.Header.Get("WWW-Authenticate"))
	}
	r = e2e.Expect(t, "jwks", e2e.Do(t, "GET", url+"/.well-known/jwks.json", "", nil), 200)
	if keys, _ := r.Body["keys"].([]any); len(keys) != 2 {
		t.Fatalf("jwks: %v", r.Body)
	}
	e2e.Expect(t, "readyz", e2e.Do(t, "GET", url+"/readyz", "", nil), 200)
	metrics := p.Metrics(t)
	for _, m := range []string{"latch_http_requests_total", "latch_password_hash_queue_depth", "latch_db_connections_open",
		`latch_security_events_total{type="refresh.reuse"} 1`, `latch_security_events_total{type="refresh.rotate"}`, "latch_active_sessions", "latch_build_info"} {
		if !strings.Contains(metrics, m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
}

func TestEndToEndSQLite(t *testing.T) {
	dir := t.TempDir()
	p := e2e.Start(t, dir)
	walk(t, p)
	if !strings.Contains(p.Logs(), "secret.generated") {
		t.Errorf("no warning about the generated secret key; logs:\n%s", p.Logs())
	}
	for _, f := range []string{"latch.db", "latch.secret"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "latch.secret")); err == nil && fi.Mode().Perm() != 0o600 {
		t.Errorf("latch.secret mode: got %v, want 0600", fi.Mode().Perm())
	}
	for _, leak := range []string{"a long and lovely passphrase", "lrt_", "$argon2id$"} {
		if strings.Contains(p.Logs(), leak) {
			t.Errorf("logs contain %q", leak)
		}
	}
	p.Stop(t)

	// A restart reuses the keys: tokens signed before stay valid.
	p = e2e.Start(t, dir)
	r := e2e.Expect(t, "login after restart", e2e.Do(t, "POST", p.URL+"/v1/token", "", map[string]any{"grant_type": "password", "email": "walker@example.com", "password": "a long and lovely passphrase"}), 200)
	e2e.Expect(t, "user after restart", e2e.Do(t, "GET", p.URL+"/v1/user", r.Body["access_token"].(string), nil), 200)
	if strings.Contains(p.Logs(), "secret.generated") {
		t.Error("the secret key was generated again on restart")
	}
	p.Stop(t)
}

func TestEndToEndPostgres(t *testing.T) {
	url := pgtest.URL(t)
	dir := t.TempDir()
	env := []string{"LATCH_DATABASE_URL=" + url, "LATCH_SECRET_KEY=e2e-secret-key-0123456789abcdef0123456789"}
	p := e2e.Start(t, dir, env...)
	walk(t, p)
	// Two instances on one database behave as one server: a session
	// started on one is refreshed on the other.
	q := e2e.Start(t, dir, env...)
	r := e2e.Expect(t, "login on A", e2e.Do(t, "POST", p.URL+"/v1/token", "", map[string]any{"grant_type": "password", "email": "walker@example.com", "password": "a long and lovely passphrase"}), 200)
	rt := r.Body["refresh_token"].(string)
	r = e2e.Expect(t, "refresh on B", e2e.Do(t, "POST", q.URL+"/v1/token", "", map[string]any{"grant_type": "refresh_token", "refresh_token": rt}), 200)
	e2e.Expect(t, "B's access token at A", e2e.Do(t, "GET", p.URL+"/v1/user", r.Body["access_token"].(string), nil), 200)
	p.Stop(t)
	q.Stop(t)
	if _, err := os.Stat(filepath.Join(dir, "latch.secret")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("latch.secret written with PostgreSQL: %v", err)
	}
}

func TestCommandLine(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name  string
		stdin string
		args  []string
		code  int
		out   string
	}{
		{"version", "", []string{"version"}, 0, "latch "},
		{"help", "", []string{"--help"}, 0, "serve"},
		{"no command", "", nil, 2, "a command is required"},
		{"unknown command", "", []string{"frobnicate"}, 2, "frobnicate"},
		{"unknown flag", "", []string{"serve", "--nope"}, 2, "unknown flag"},
		{"bad config", "", []string{"migrate", "status", "--access-token-ttl", "soon"}, 1, "--access-token-ttl: not a duration"},
		{"migrate status before", "", []string{"migrate", "status"}, 0, "pending"},
		{"migrate up", "", []string{"migrate", "up"}, 0, "database is at version"},
		{"migrate status after", "", []string{"migrate", "status"}, 0, "database version"},
		{"user create", "a long and lovely passphrase\n", []string{"user", "create", "cli@example.com", "--password-stdin"}, 0, "created user"},
		{"user create weak", "password\n", []string{"user", "create", "weak@example.com"}, 1, "password refused"},
		{"user create dup", "a long and lovely passphrase\n", []string{"user", "create", "CLI@example.com"}, 1, "already exists"},
		{"user create no args", "", []string{"user", "create"}, 2, "accepts 1 arg"},
		{"user list", "", []string{"user", "list"}, 0, "cli@example.com"},
		{"user disable", "", []string{"user", "disable", "cli@example.com"}, 0, "disabled"},
		{"user list disabled", "", []string{"user", "list"}, 0, "true"},
		{"user enable", "", []string{"user", "enable", "cli@example.com"}, 0, "enabled"},
		{"user verify", "", []string{"user", "verify", "cli@example.com"}, 0, "verified"},
		{"user unlock", "", []string{"user", "unlock", "cli@example.com"}, 0, "unlocked"},
		{"user missing", "", []string{"user", "disable", "ghost@example.com"}, 1, "user not found"},
		{"user mfa reset", "", []string{"user", "mfa", "reset", "cli@example.com"}, 0, "removed 0 factor(s) of cli@example.com"},
		{"user mfa reset missing", "", []string{"user", "mfa", "reset", "ghost@example.com"}, 1, "user not found"},
		{"user mfa alone", "", []string{"user", "mfa"}, 2, "needs a subcommand"},
		{"keys list", "", []string{"keys", "list"}, 0, "current"},
		{"keys rotate too soon", "", []string{"keys", "rotate"}, 1, "--force"},
		{"keys rotate", "", []string{"keys", "rotate", "--force"}, 0, "rotated"},
		{"keys list after", "", []string{"keys", "list"}, 0, "previous"},
		{"user delete", "", []string{"user", "delete", "cli@example.com"}, 0, "deleted"},
		{"audit list", "", []string{"audit", "list"}, 0, "admin.user.delete"},
		{"audit list by type", "", []string{"audit", "list", "--type", "key.rotate"}, 0, "key.rotate"},
		{"audit list of a deleted user", "", []string{"audit", "list", "--user", "cli@example.com"}, 0, "ID"},
		{"healthcheck with nothing running", "", []string{"healthcheck", "--addr", "127.0.0.1:1"}, 1, "unhealthy"},
		{"user group alone", "", []string{"user"}, 2, "needs a subcommand"},
	}
	for _, c := range cases {
		out, code := e2e.RunCLI(t, dir, nil, c.stdin, c.args...)
		if code != c.code || !strings.Contains(out, c.out) {
			t.Errorf("%s: latch %s: got exit %d and %q, want exit %d and output containing %q", c.name, strings.Join(c.args, " "), code, out, c.code, c.out)
		}
	}
}
