package faulttest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/e2e"
)

// startUnderLoad starts latch on the PostgreSQL at dbURL, set up for a
// fault of the database (no rate limit, faultGrace and
// faultRequestTimeout, signing keys reloaded every second), and six
// clients using it, and returns once the load is under way.
func startUnderLoad(t *testing.T, dbURL string) (*e2e.Proc, *client, *load) {
	t.Helper()
	env := []string{
		"LATCH_DATABASE_URL=" + dbURL,
		"LATCH_SECRET_KEY=" + secretKey,
		"LATCH_ADMIN_KEY=" + adminKey,
		"LATCH_RATE_LIMIT=off",
		"LATCH_REFRESH_REUSE_GRACE=" + faultGrace.String(),
		"LATCH_REQUEST_TIMEOUT=" + faultRequestTimeout.String(),
		// Reloads of the signing keys fail while the database is away;
		// they must not leave latch unready or unable to sign after.
		"LATCH_KEY_RELOAD_INTERVAL=1s",
	}
	p := e2e.Start(t, t.TempDir(), env...)
	c := newClient(t, p.URL)
	l := startLoad(t, c, 6)
	l.waitAcked(t, 150, time.Second, 30*time.Second, 40)
	return p, c, l
}

// How latch is set up for a fault of its database: the refresh token
// reuse grace and request timeout it runs with, and how long past the
// timeout an answer may take (the hashing before the database call, and
// a busy machine).
const (
	faultGrace          = time.Minute
	faultRequestTimeout = 3 * time.Second
	faultSlack          = 2 * time.Second
)

// TestPostgresStoppedUnderLoad stops latch's PostgreSQL (immediate mode,
// as a crash would) while six clients use latch, checks how latch answers
// while the database is away, starts the database again and checks that
// latch recovers by itself with nothing acknowledged missing.
func TestPostgresStoppedUnderLoad(t *testing.T) {
	pg := startPostgres(t)
	p, c, l := startUnderLoad(t, pg.url())

	pg.stop(t)
	fault := time.Now()
	expectDown(t, c, l, "PostgreSQL stopped", "database down", fault, faultRequestTimeout+faultSlack)
	// Long enough for a few key reloads to fail.
	time.Sleep(time.Until(fault.Add(3500 * time.Millisecond)))

	pg.start(t)
	restarted := time.Now()
	if !c.ready(30 * time.Second) {
		t.Fatalf("latch not ready 30 s after PostgreSQL came back; logs:\n%s", p.Logs())
	}
	t.Logf("ready again %v after PostgreSQL started (%v after it stopped), without a restart",
		time.Since(restarted).Round(time.Millisecond), time.Since(fault).Round(time.Millisecond))
	if err := p.Wait(0); err == nil || !strings.Contains(err.Error(), "did not exit") {
		t.Fatalf("latch exited: %v", err)
	}
	verify(t, c, l, fault, faultGrace)
	p.Stop(t)
	if t.Failed() {
		t.Logf("latch logs:\n%s", p.Logs())
	}
}

// expectDown waits for the load l to end after a fault of the database,
// logging it as what, checks that every worker was ended by latch's 503
// within limit of a request's start (each ends at its first request
// without an acknowledgement), then probes latch while the database is
// away, as the subtest name.
func expectDown(t *testing.T, c *client, l *load, what, name string, fault time.Time, limit time.Duration) {
	t.Helper()
	l.wait(t, 2*limit+5*time.Second)
	t.Logf("%s after %v: %s", what, fault.Sub(l.started).Round(time.Millisecond), l.summary())
	expectEndedUnavailable(t, l, limit)
	t.Run(name, func(t *testing.T) {
		probeDown(t, c, l, limit)
	})
}

// expectEndedUnavailable checks that every worker of l was ended by a
// 503 unavailable with Retry-After, within limit.
func expectEndedUnavailable(t *testing.T, l *load, limit time.Duration) {
	t.Helper()
	for _, w := range l.workers {
		switch {
		case w.pending == nil:
			t.Errorf("worker %d ended without a failed request", w.id)
		case w.endErr != nil:
			t.Errorf("worker %d: %s: %v, want 503 unavailable", w.id, w.pending, w.endErr)
		default:
			expectUnavailable(t, fmt.Sprintf("worker %d: %s", w.id, w.pending), w.endReply, nil, limit)
		}
	}
}

// probeDown checks every kind of request while the database is away, all
// at once: those that need the database answer 503 unavailable with
// Retry-After within limit (a valid access token included: the check that
// its session is still live fails closed), /readyz says 503 within limit,
// and what needs no database (/healthz, the JWKS) answers 200 at once.
// It uses a session of the load that the load left live and certain; its
// refresh and logout here fail, so verify later finds it unchanged.
func probeDown(t *testing.T, c *client, l *load, limit time.Duration) {
	t.Helper()
	var ch *chain
	var acct *account
	for _, w := range l.workers {
		for _, a := range w.accounts {
			for _, x := range a.chains {
				if !x.loggedOut && (w.pending == nil || w.pending.chain != x) {
					ch, acct = x, a
				}
			}
		}
	}
	if ch == nil {
		t.Fatal("the load left no live session to probe with")
	}
	down := []probe{
		{"GET /v1/user with a valid token (the revocation check must fail closed)", "GET", "/v1/user", ch.access, nil, 503},
		{"introspection of a valid access token", "POST", "/v1/introspect", adminKey, map[string]any{"token": ch.access}, 503},
		{"refresh", "POST", "/v1/token", "", map[string]any{"grant_type": "refresh_token", "refresh_token": ch.latest()}, 503},
		{"sign-in", "POST", "/v1/token", "", map[string]any{"grant_type": "password", "email": acct.email, "password": acct.password}, 503},
		{"signup", "POST", "/v1/signup", "", map[string]any{"email": "down@fault.example.com", "password": "signed up while the database is down"}, 503},
		{"GET /v1/sessions", "GET", "/v1/sessions", ch.access, nil, 503},
		{"logout", "POST", "/v1/logout", ch.access, map[string]any{"scope": "global"}, 503},
		{"revoke (RFC 7009 §2.2.1: 503 when it could not revoke)", "POST", "/v1/revoke", "", map[string]any{"token": ch.latest()}, 503},
	}
	var wg sync.WaitGroup
	sendProbes(t, &wg, c, down, "", limit)
	wg.Go(func() {
		r, err := c.try("GET", "/readyz", "", nil)
		if expectStatus(t, "/readyz", r, err, http.StatusServiceUnavailable) && r.Took > limit {
			t.Errorf("/readyz answered after %v, want within %v", r.Took, limit)
		}
	})
	for _, path := range []string{"/healthz", "/.well-known/jwks.json"} {
		wg.Go(func() {
			r, err := c.try("GET", path, "", nil)
			if expectStatus(t, path, r, err, http.StatusOK) && r.Took > time.Second {
				t.Errorf("%s took %v with the database away, want it at once", path, r.Took)
			}
		})
	}
	wg.Wait()
}

// postgres is a PostgreSQL server of the test's own, in a temporary
// directory, listening on 127.0.0.1 on a free port.
type postgres struct {
	bin  string // directory of initdb, pg_ctl
	base string // holds data/, the socket and the log
	port int
}

// startPostgres initialises and starts a PostgreSQL for this test; it is
// stopped and removed at the end of the test.
func startPostgres(t *testing.T) *postgres {
	t.Helper()
	bin := pgBinDir()
	if bin == "" {
		t.Skip("needs PostgreSQL's initdb and pg_ctl: set LATCH_TEST_PG_BINDIR or install PostgreSQL under /usr/lib/postgresql")
	}
	base, err := os.MkdirTemp("", "latch-faulttest-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	pg := &postgres{bin: bin, base: base}
	if os.Geteuid() == 0 {
		// initdb refuses to run as root: the cluster belongs to postgres.
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs a postgres user for initdb: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(base, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	_, port, _ := net.SplitHostPort(e2e.FreeAddr(t))
	pg.port, _ = strconv.Atoi(port)
	pg.run(t, 2*time.Minute, "initdb", "-D", pg.data(), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
	pg.start(t)
	t.Cleanup(func() {
		// Whatever state the test left it in.
		cmd := pg.command(context.Background(), "pg_ctl", "-D", pg.data(), "stop", "-m", "immediate", "-w", "-t", "30")
		_ = cmd.Run()
	})
	return pg
}

func (pg *postgres) data() string { return filepath.Join(pg.base, "data") }

func (pg *postgres) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", pg.port)
}

func (pg *postgres) start(t *testing.T) {
	t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c shared_buffers=16MB -c max_connections=50", pg.port, pg.base)
	pg.run(t, 90*time.Second, "pg_ctl", "-D", pg.data(), "-o", opts, "-l", filepath.Join(pg.base, "postgres.log"), "-w", "-t", "60", "start")
}

// stop stops the server in immediate mode: every backend exits at once
// without a checkpoint, as in a crash; the next start recovers from WAL.
func (pg *postgres) stop(t *testing.T) {
	t.Helper()
	pg.run(t, 60*time.Second, "pg_ctl", "-D", pg.data(), "stop", "-m", "immediate", "-w", "-t", "30")
}

func (pg *postgres) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	path := filepath.Join(pg.bin, name)
	if os.Geteuid() == 0 {
		return exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	}
	return exec.CommandContext(ctx, path, args...)
}

func (pg *postgres) run(t *testing.T, d time.Duration, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := pg.command(ctx, name, args...)
	cmd.Dir = pg.base
	if out, err := cmd.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(pg.base, "postgres.log"))
		t.Fatalf("%s %s: %v\n%s\npostgres.log:\n%s", name, strings.Join(args, " "), err, out, log)
	}
}

// pgBinDir finds PostgreSQL's server binaries: LATCH_TEST_PG_BINDIR, else
// the newest /usr/lib/postgresql/*/bin that has initdb.
func pgBinDir() string {
	if d := os.Getenv("LATCH_TEST_PG_BINDIR"); d != "" {
		return d
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	return ""
}
