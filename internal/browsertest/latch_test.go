package browsertest

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/e2e"
	"github.com/latchauth/latch/internal/mail/mailtest"
	"github.com/latchauth/latch/internal/store/postgres/pgtest"
)

// latch is one real latch server, started for one test on a free
// loopback port, with that address as its public URL: plain HTTP, which
// latch allows on loopback, so its cookies are latch_session, latch_csrf
// and latch_device without the __Host- prefix.
type latch struct {
	URL  string // the public URL: http://127.0.0.1:port, or http://localhost:port for passkeys
	proc *e2e.Proc
	mail *mailtest.Server // nil unless started withMail
}

// database is where a latch keeps its data.
type database struct {
	name string
	env  func(t *testing.T) []string
}

var (
	sqlite = database{"sqlite", func(*testing.T) []string { return nil }}
	// postgres gives each latch a schema of its own (pgtest), so parallel
	// tests never share rows; it skips without LATCH_TEST_POSTGRES_URL.
	postgres = database{"postgres", func(t *testing.T) []string {
		var key [24]byte
		rand.Read(key[:])
		return []string{"LATCH_DATABASE_URL=" + pgtest.URL(t), "LATCH_SECRET_KEY=" + hex.EncodeToString(key[:])}
	}}
)

// forEachDatabase runs a flow on SQLite and, when LATCH_TEST_POSTGRES_URL
// is set, on PostgreSQL, in parallel.
func forEachDatabase(t *testing.T, flow func(t *testing.T, db database)) {
	t.Helper()
	for _, db := range []database{sqlite, postgres} {
		t.Run(db.name, func(t *testing.T) {
			t.Parallel()
			flow(t, db)
		})
	}
}

// withMail is the option of startLatch that starts an SMTP server for
// latch's messages.
const withMail = "mail"

// startLatch starts latch on db with env (LATCH_*=… entries, or
// withMail).
func startLatch(t *testing.T, db database, env ...string) *latch {
	t.Helper()
	return startLatchAt(t, db, "http://"+freeAddr(t), env...)
}

// freeAddr is a free loopback host:port.
func freeAddr(t *testing.T) string {
	t.Helper()
	return e2e.FreeAddr(t)
}

// localhostURL is a public URL http://localhost:port on a free port:
// WebAuthn needs a host name for its relying party (browsers refuse an IP
// address), so a latch started there offers passkeys.
func localhostURL(t *testing.T) string {
	t.Helper()
	addr := freeAddr(t)
	return "http://localhost:" + addr[strings.LastIndex(addr, ":")+1:]
}

// startLocalhost starts latch at a localhostURL, with passkeys on.
func startLocalhost(t *testing.T, db database, env ...string) *latch {
	t.Helper()
	return startLatchAt(t, db, localhostURL(t), env...)
}

// startLatchAt starts latch at a URL chosen before, for the tests whose
// other servers must know latch's address first. A localhost URL is
// served on 127.0.0.1.
func startLatchAt(t *testing.T, db database, public string, env ...string) *latch {
	t.Helper()
	addr := strings.TrimPrefix(public, "http://")
	if port, ok := strings.CutPrefix(addr, "localhost:"); ok {
		addr = "127.0.0.1:" + port
	}
	l := &latch{URL: public}
	all := []string{"LATCH_ADDR=" + addr, "LATCH_PUBLIC_URL=" + l.URL, "LATCH_METRICS_ADDR=off"}
	all = append(all, db.env(t)...)
	for _, e := range env {
		if e == withMail {
			l.mail = mailtest.Start(t, mailtest.Options{})
			all = append(all, "LATCH_SMTP_URL="+l.mail.URL())
			continue
		}
		all = append(all, e)
	}
	l.proc = e2e.Start(t, t.TempDir(), all...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("latch's log:\n%s", tail(l.proc.Logs(), 40))
		}
	})
	if l.proc.URL != "http://"+addr {
		t.Fatalf("latch listens at %s, want http://%s", l.proc.URL, addr)
	}
	return l
}

// createUser makes an account through the JSON API, for the flows that
// start signed up; it needs a latch that does not require verification.
func (l *latch) createUser(t *testing.T, email, password string) {
	t.Helper()
	e2e.Expect(t, "sign up "+email, e2e.Do(t, http.MethodPost, l.URL+"/v1/signup", "", map[string]any{"email": email, "password": password}), http.StatusCreated)
}

// linkInMail waits for a message to addr with a link to page (such as
// "/verify") and returns the link.
func (l *latch) linkInMail(t *testing.T, addr, page string) string {
	t.Helper()
	prefix := l.URL + page + "?token="
	m := l.mail.Wait(t, 30*time.Second, func(m mailtest.Received) bool {
		return len(m.To) == 1 && strings.EqualFold(m.To[0], addr) && m.Link(prefix) != ""
	})
	return m.Link(prefix)
}

// The passwords of the flows: long enough for latch's policy, not in any
// breach list a test would load.
const (
	password1 = "a long and lovely passphrase"
	password2 = "another lovely passphrase, longer"
)

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
