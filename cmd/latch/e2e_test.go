package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/store/postgres/pgtest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the real latch binary once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "latch-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "latch")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is a running latch serve.
type proc struct {
	cmd  *exec.Cmd
	url  string
	logs *syncBuffer
	done chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs `latch serve` with env and waits for its listening line and
// a healthy /healthz.
func start(t *testing.T, dir string, env ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary(t), "serve")
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "LATCH_ADDR=127.0.0.1:0", "LATCH_LOG_FORMAT=json"}, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, logs: &syncBuffer{}, done: make(chan error, 1)}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.logs.Write([]byte(line + "\n"))
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["event"] == "server.start" {
				addr <- m["url"].(string)
			}
		}
		p.done <- cmd.Wait()
	}()
	select {
	case p.url = <-addr:
	case <-time.After(60 * time.Second):
		t.Fatalf("latch did not start; logs:\n%s", p.logs.String())
	}
	if strings.HasPrefix(p.url, "http://") {
		if r := do(t, "GET", p.url+"/healthz", "", nil); r.status != 200 {
			t.Fatalf("healthz: %d", r.status)
		}
	}
	return p
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
}

func do(t *testing.T, method, url, bearer string, body any) reply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return reply{status: resp.StatusCode, header: resp.Header, body: m}
}

func expect(t *testing.T, what string, r reply, status int) reply {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: got %d %v, want %d", what, r.status, r.body, status)
	}
	return r
}

// walk drives the whole flow: signup → login → user → refresh → re-use
// detection → logout → refused.
func walk(t *testing.T, url string) {
	const email, pw = "walker@example.com", "a long and lovely passphrase"
	r := expect(t, "signup", do(t, "POST", url+"/v1/signup", "", map[string]any{"email": email, "password": pw}), 201)
	if r.body["refresh_token"] == nil {
		t.Fatalf("signup answer: %v", r.body)
	}
	r = expect(t, "login", do(t, "POST", url+"/v1/token", "", map[string]any{"grant_type": "password", "email": email, "password": pw}), 200)
	access, refresh := r.body["access_token"].(string), r.body["refresh_token"].(string)
	r = expect(t, "user", do(t, "GET", url+"/v1/user", access, nil), 200)
	if r.body["email"] != email {
		t.Fatalf("user: %v", r.body)
	}
	r = expect(t, "refresh", do(t, "POST", url+"/v1/token", "", map[string]any{"grant_type": "refresh_token", "refresh_token": refresh}), 200)
	access2, refresh2 := r.body["access_token"].(string), r.body["refresh_token"].(string)
	expect(t, "refresh again", do(t, "POST", url+"/v1/token", "", map[string]any{"grant_type": "refresh_token", "refresh_token": refresh2}), 200)
	// refresh is now a grandparent: re-use revokes the session.
	r = expect(t, "re-use", do(t, "POST", url+"/v1/token", "", map[string]any{"grant_type": "refresh_token", "refresh_token": refresh}), 400)
	if r.body["error"] != "invalid_grant" {
		t.Fatalf("re-use: %v", r.body)
	}
	expect(t, "access token of the revoked session", do(t, "GET", url+"/v1/user", access2, nil), 401)

	r = expect(t, "login 2", do(t, "POST", url+"/v1/token", "", map[string]any{"grant_type": "password", "email": email, "password": pw}), 200)
	access3 := r.body["access_token"].(string)
	expect(t, "logout", do(t, "POST", url+"/v1/logout", access3, map[string]any{"scope": "global"}), 204)
	r = expect(t, "after logout", do(t, "GET", url+"/v1/user", access3, nil), 401)
	if !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("WWW-Authenticate: %q", r.header.Get("WWW-Authenticate"))
	}
	r = expect(t, "jwks", do(t, "GET", url+"/.well-known/jwks.json", "", nil), 200)
	if keys, _ := r.body["keys"].([]any); len(keys) != 2 {
		t.Fatalf("jwks: %v", r.body)
	}
	expect(t, "readyz", do(t, "GET", url+"/readyz", "", nil), 200)
}

// stop sends SIGTERM and expects a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v; logs:\n%s", err, p.logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("latch did not stop after SIGTERM")
	}
}

func TestEndToEndSQLite(t *testing.T) {
	dir := t.TempDir()
	p := start(t, dir)
	walk(t, p.url)
	if !strings.Contains(p.logs.String(), "secret.generated") {
		t.Errorf("no warning about the generated secret key; logs:\n%s", p.logs.String())
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
		if strings.Contains(p.logs.String(), leak) {
			t.Errorf("logs contain %q", leak)
		}
	}
	p.stop(t)

	// A restart reuses the keys: tokens signed before stay valid.
	p = start(t, dir)
	r := expect(t, "login after restart", do(t, "POST", p.url+"/v1/token", "", map[string]any{"grant_type": "password", "email": "walker@example.com", "password": "a long and lovely passphrase"}), 200)
	expect(t, "user after restart", do(t, "GET", p.url+"/v1/user", r.body["access_token"].(string), nil), 200)
	if strings.Contains(p.logs.String(), "secret.generated") {
		t.Error("the secret key was generated again on restart")
	}
	p.stop(t)
}

func TestEndToEndPostgres(t *testing.T) {
	url := pgtest.URL(t)
	dir := t.TempDir()
	env := []string{"LATCH_DATABASE_URL=" + url, "LATCH_SECRET_KEY=e2e-secret-key-0123456789abcdef0123456789"}
	p := start(t, dir, env...)
	walk(t, p.url)
	// Two instances on one database behave as one server: a session
	// started on one is refreshed on the other.
	q := start(t, dir, env...)
	r := expect(t, "login on A", do(t, "POST", p.url+"/v1/token", "", map[string]any{"grant_type": "password", "email": "walker@example.com", "password": "a long and lovely passphrase"}), 200)
	rt := r.body["refresh_token"].(string)
	r = expect(t, "refresh on B", do(t, "POST", q.url+"/v1/token", "", map[string]any{"grant_type": "refresh_token", "refresh_token": rt}), 200)
	expect(t, "B's access token at A", do(t, "GET", p.url+"/v1/user", r.body["access_token"].(string), nil), 200)
	p.stop(t)
	q.stop(t)
	if _, err := os.Stat(filepath.Join(dir, "latch.secret")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("latch.secret written with PostgreSQL: %v", err)
	}
}

// runCLI runs a latch command in the real binary.
func runCLI(t *testing.T, dir, stdin string, args ...string) (string, int) {
	t.Helper()
	return runCLIWith(t, dir, nil, stdin, args...)
}

func runCLIWith(t *testing.T, dir string, env []string, stdin string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "LATCH_LOG_FORMAT=json"}, env...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
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
		{"keys list", "", []string{"keys", "list"}, 0, "current"},
		{"keys rotate too soon", "", []string{"keys", "rotate"}, 1, "--force"},
		{"keys rotate", "", []string{"keys", "rotate", "--force"}, 0, "rotated"},
		{"keys list after", "", []string{"keys", "list"}, 0, "previous"},
		{"user delete", "", []string{"user", "delete", "cli@example.com"}, 0, "deleted"},
		{"user group alone", "", []string{"user"}, 2, "needs a subcommand"},
	}
	for _, c := range cases {
		out, code := runCLI(t, dir, c.stdin, c.args...)
		if code != c.code || !strings.Contains(out, c.out) {
			t.Errorf("%s: latch %s: got exit %d and %q, want exit %d and output containing %q", c.name, strings.Join(c.args, " "), code, out, c.code, c.out)
		}
	}
}
