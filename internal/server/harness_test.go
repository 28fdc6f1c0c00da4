package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/latchauth/latch/internal/app"
	"github.com/latchauth/latch/internal/audit"
	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/clocktest"
	"github.com/latchauth/latch/internal/config"
	"github.com/latchauth/latch/internal/mail"
	"github.com/latchauth/latch/internal/mail/mailtest"
	"github.com/latchauth/latch/internal/outbox"
	"github.com/latchauth/latch/internal/password"
	"github.com/latchauth/latch/internal/server"
	"github.com/latchauth/latch/internal/store"
	"github.com/latchauth/latch/internal/store/postgres"
	"github.com/latchauth/latch/internal/store/postgres/pgtest"
	"github.com/latchauth/latch/internal/store/sqlite"
	"github.com/latchauth/latch/internal/token"
)

// backend opens a fresh, migrated store for one test.
type backend struct {
	name string
	open func(t testing.TB) store.Store
}

func backends() []backend {
	return []backend{
		{"sqlite", func(t testing.TB) store.Store {
			t.Helper()
			db, err := sqlite.Open(context.Background(), t.TempDir()+"/latch.db")
			if err != nil {
				t.Fatalf("open sqlite: %v", err)
			}
			return db
		}},
		{"postgres", func(t testing.TB) store.Store {
			t.Helper()
			db, err := postgres.Open(context.Background(), pgtest.URL(t))
			if err != nil {
				t.Fatalf("open postgres: %v", err)
			}
			return db
		}},
	}
}

// forEachBackend runs test once per database backend.
func forEachBackend(t *testing.T, test func(t *testing.T, b backend)) {
	t.Helper()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			test(t, b)
		})
	}
}

// forEachHarness runs test, as a parallel subtest per backend, on a fresh
// harness (newHarness with opts) for that backend.
func forEachHarness(t *testing.T, test func(t *testing.T, h *harness), opts ...harnessOption) {
	t.Helper()
	forEachBackend(t, func(t *testing.T, b backend) {
		test(t, newHarness(t, b, opts...))
	})
}

// harness is a latch server on httptest with a real store and a stepped
// clock.
type harness struct {
	t      testing.TB
	srv    *httptest.Server
	clock  *clocktest.Clock
	db     store.Store
	auth   *auth.Service
	audit  *audit.Recorder
	mail   *outbox.Sender // with withSMTP
	tokens *token.Manager
	cfg    config.Config
	server *server.Server
	reg    *prometheus.Registry // the metrics of the server and of its audit recorder
	smtp   *mailtest.Server     // with withSMTP: the mail server messages reach
	taken  map[int]bool         // messages mailTo returned already
}

// withSMTP starts an SMTP server on loopback for the harness and points
// LATCH_SMTP_URL at it, which also turns signup verification on.
func withSMTP() harnessOption {
	return withEnv("LATCH_SMTP_URL", "mailtest")
}

const testAdminKey = "test-admin-key-0123456789abcdef0123456789"

// harnessSetup is what options change before the harness is built.
type harnessSetup struct {
	env map[string]string
	// hasher, when set, wraps the real password hasher (to hold a request
	// at a chosen moment; the hashing itself stays real).
	hasher func(auth.Hasher) auth.Hasher
	// providers, when set, makes every request to the social providers.
	providers *http.Client
}

// harnessOption sets LATCH_* variables for the harness's configuration,
// or wraps one of its parts.
type harnessOption func(*harnessSetup)

func withEnv(kv ...string) harnessOption {
	return func(s *harnessSetup) {
		for i := 0; i+1 < len(kv); i += 2 {
			s.env[kv[i]] = kv[i+1]
		}
	}
}

// withHasher wraps the harness's password hasher.
func withHasher(wrap func(auth.Hasher) auth.Hasher) harnessOption {
	return func(s *harnessSetup) { s.hasher = wrap }
}

// testParams keeps argon2id cheap in HTTP tests (-race makes it ~10x
// slower); the real parameters are tested in internal/password and the
// end-to-end test.
var testParams = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func newHarness(t testing.TB, b backend, opts ...harnessOption) *harness {
	t.Helper()
	// The clock stands still, so the per-address bucket never refills:
	// only tests of the bucket set a burst a test can reach.
	setup := harnessSetup{env: map[string]string{"LATCH_ADDRESS_BURST": "100000"}}
	for _, o := range opts {
		o(&setup)
	}
	env := setup.env
	var smtp *mailtest.Server
	if env["LATCH_SMTP_URL"] == "mailtest" {
		smtp = mailtest.Start(t, mailtest.Options{})
		env["LATCH_SMTP_URL"] = smtp.URL()
	}
	cfg, err := config.Load(config.Sources{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	db := b.open(t)
	t.Cleanup(func() { db.Close() })
	clk := clocktest.New(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)) // tests move time instead of sleeping
	hasher, err := password.NewHasher(testParams, password.Limits{Concurrency: 4, Queue: 64, MaxWait: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// The same wiring as serve, with the test's store, clock and secret;
	// the sender is not run: the tests send with sendMail, when they
	// choose.
	wiring := []app.Option{
		app.WithStore(db), app.WithMigrations(), app.WithClock(clk.Now),
		app.WithSecret([]byte("test-secret-key-0123456789abcdef0123456789")),
		app.WithSMTPOptions(mail.SMTPOptions{Retries: -1, Timeout: 5 * time.Second}),
	}
	if setup.hasher != nil {
		wiring = append(wiring, app.WithHasherWrapper(setup.hasher))
	}
	if setup.providers != nil {
		wiring = append(wiring, app.WithProviderClient(setup.providers))
	}
	a, err := app.Build(context.Background(), cfg, slog.New(slog.DiscardHandler), hasher, wiring...)
	if err != nil {
		t.Fatal(err)
	}
	var sender *outbox.Sender // only where messages reach a mail server of the test's
	if smtp != nil {
		sender = a.Mail
	}
	h := a.NewServer("test")
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &harness{t: t, srv: srv, clock: clk, db: db, auth: a.Auth, audit: a.Audit, mail: sender, tokens: a.Tokens, cfg: cfg, server: h, reg: a.Registry, smtp: smtp, taken: map[int]bool{}}
}

// response is a finished HTTP exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

func (r response) str(t testing.TB, key string) string {
	t.Helper()
	s, _ := r.json(t)[key].(string)
	return s
}

// do sends a request; body may be a string (sent as is), url.Values (form)
// or anything else (JSON).
func (h *harness) do(method, path, bearer string, body any, header ...string) response {
	h.t.Helper()
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ctype = strings.NewReader(b), "application/json"
	case url.Values:
		rd, ctype = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd, ctype = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return exchange(h.t, h.srv.Client(), req, header...)
}

// exchange sends req through c with the extra header name/value pairs
// and reads the whole answer.
func exchange(t testing.TB, c *http.Client, req *http.Request, header ...string) response {
	t.Helper()
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.RequestURI(), err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// want checks status and, for errors, the error code.
func want(t testing.TB, r response, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status: got %d, want %d; body %s", r.status, status, r.body)
	}
	if code != "" {
		if got := r.str(t, "error"); got != code {
			t.Fatalf("error code: got %q, want %q; body %s", got, code, r.body)
		}
		if r.str(t, "error_description") == "" {
			t.Fatalf("error_description is empty: %s", r.body)
		}
	}
}

const goodPassword = "correct horse battery staple"

type tokens struct {
	access, refresh, userID string
}

func (r response) tokens(t testing.TB) tokens {
	t.Helper()
	m := r.json(t)
	u, _ := m["user"].(map[string]any)
	id, _ := u["id"].(string)
	tk := tokens{access: r.str(t, "access_token"), refresh: r.str(t, "refresh_token"), userID: id}
	if tk.access == "" || tk.refresh == "" || id == "" {
		t.Fatalf("not a token response: %s", r.body)
	}
	return tk
}

func (h *harness) signup(email string) tokens {
	h.t.Helper()
	r := h.do("POST", "/v1/signup", "", map[string]any{"email": email, "password": goodPassword})
	want(h.t, r, http.StatusCreated, "")
	return r.tokens(h.t)
}

func (h *harness) login(email, pw string) response {
	h.t.Helper()
	return h.do("POST", "/v1/token", "", map[string]any{"grant_type": "password", "email": email, "password": pw})
}

func (h *harness) refresh(rt string) response {
	h.t.Helper()
	return h.do("POST", "/v1/token", "", map[string]any{"grant_type": "refresh_token", "refresh_token": rt})
}

// jwtParts decodes a compact JWT's header and payload without verifying.
func jwtParts(t testing.TB, raw string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments, want 3", len(parts))
	}
	dec := func(s string) map[string]any {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("bad base64: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("bad JSON: %v", err)
		}
		return m
	}
	return dec(parts[0]), dec(parts[1])
}

// sendMail runs the outbox sender once, as the server's background loop
// would, and returns how many messages it delivered.
func (h *harness) sendMail() int {
	h.t.Helper()
	if h.mail == nil {
		return 0
	}
	n, err := h.mail.SendAll(context.Background())
	if err != nil {
		h.t.Fatalf("send mail: %v", err)
	}
	return n
}
