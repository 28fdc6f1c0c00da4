package faulttest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/e2e"
)

// Secrets of the servers these tests start; both are ≥ 32 characters, as
// latch requires.
const (
	adminKey  = "faulttest-admin-key-0123456789abcdef0123"
	secretKey = "faulttest-secret-key-0123456789abcdef0123"
)

// client talks to one latch over its own connection pool, so that a test
// can tell its connections apart from other tests' and close them.
type client struct {
	base string
	hc   *http.Client
}

func newClient(t testing.TB, base string) *client {
	tr := &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	return &client{base: base, hc: &http.Client{Timeout: 30 * time.Second, Transport: tr}}
}

// reply is an answer with how long it took and its raw body.
type reply struct {
	e2e.Reply
	Took time.Duration
	Raw  string
}

func (r reply) String() string {
	return fmt.Sprintf("%d %s", r.Status, strings.TrimSpace(r.Raw))
}

// try sends a JSON request (body nil for none); a transport error is
// returned, not reported.
func (c *client) try(method, path, bearer string, body any) (reply, error) {
	req, err := e2e.NewRequest(method, c.base+path, bearer, body)
	if err != nil {
		return reply{}, err
	}
	start := time.Now()
	r, raw, err := e2e.Send(c.hc, req)
	if err != nil {
		return reply{}, err
	}
	return reply{Reply: r, Took: time.Since(start), Raw: string(raw)}, nil
}

// do is try that fails the test on a transport error.
func (c *client) do(t testing.TB, method, path, bearer string, body any) reply {
	t.Helper()
	r, err := c.try(method, path, bearer, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

func (c *client) signup(email, pw string) (reply, error) {
	return c.try("POST", "/v1/signup", "", map[string]any{"email": email, "password": pw})
}

func (c *client) login(email, pw string) (reply, error) {
	return c.try("POST", "/v1/token", "", map[string]any{"grant_type": "password", "email": email, "password": pw})
}

func (c *client) refresh(rt string) (reply, error) {
	return c.try("POST", "/v1/token", "", map[string]any{"grant_type": "refresh_token", "refresh_token": rt})
}

func (c *client) logout(access string) (reply, error) {
	return c.try("POST", "/v1/logout", access, map[string]any{"scope": "local"})
}

// introspect asks, without side effects, whether a token is active.
func (c *client) introspect(tok string) (reply, error) {
	return c.try("POST", "/v1/introspect", adminKey, map[string]any{"token": tok})
}

// tokens returns the access and refresh token of a token response.
func tokens(r reply) (access, refresh string) {
	access, _ = r.Body["access_token"].(string)
	refresh, _ = r.Body["refresh_token"].(string)
	return access, refresh
}

// sessionID reads the sid claim of an access token. The signature is not
// checked: the token came from the server under test.
func sessionID(access string) string {
	parts := strings.Split(access, ".")
	if len(parts) != 3 {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		SID string `json:"sid"`
	}
	if json.Unmarshal(raw, &c) != nil {
		return ""
	}
	return c.SID
}

// isUnavailable reports whether r is latch's 503: code unavailable and a
// Retry-After header.
func isUnavailable(r reply) bool {
	return r.Status == http.StatusServiceUnavailable && r.Body["error"] == "unavailable" && r.Header.Get("Retry-After") != ""
}

// expectUnavailable checks that a request answers 503 unavailable with
// Retry-After within limit.
func expectUnavailable(t testing.TB, what string, r reply, err error, limit time.Duration) {
	t.Helper()
	switch {
	case err != nil:
		t.Errorf("%s: %v, want 503 unavailable", what, err)
	case !isUnavailable(r):
		t.Errorf("%s: got %s (Retry-After %q), want 503 unavailable with Retry-After", what, r, r.Header.Get("Retry-After"))
	case r.Took > limit:
		t.Errorf("%s: 503 after %v, want within %v", what, r.Took.Round(time.Millisecond), limit)
	}
}

// probe is one request sent while a fault holds, and the status it must
// get: 503 means 503 unavailable with Retry-After (expectUnavailable).
type probe struct {
	what   string
	method string
	path   string
	bearer string
	body   any
	want   int
}

// sendProbes sends every probe on c at once, as goroutines of wg, and
// checks that each gets its status within limit. during follows each
// probe's name in a failure.
func sendProbes(t *testing.T, wg *sync.WaitGroup, c *client, probes []probe, during string, limit time.Duration) {
	for _, pr := range probes {
		wg.Go(func() {
			what := pr.what + during
			r, err := c.try(pr.method, pr.path, pr.bearer, pr.body)
			if pr.want == http.StatusServiceUnavailable {
				expectUnavailable(t, what, r, err, limit)
				return
			}
			if expectStatus(t, what, r, err, pr.want) && r.Took > limit {
				t.Errorf("%s: %d after %v, want within %v", what, r.Status, r.Took.Round(time.Millisecond), limit)
			}
		})
	}
}

// expectStatus checks the status of a request that must get an answer.
func expectStatus(t testing.TB, what string, r reply, err error, status int) bool {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v, want %d", what, err, status)
		return false
	}
	if r.Status != status {
		t.Errorf("%s: got %s, want %d", what, r, status)
		return false
	}
	return true
}

// waitFor polls cond every interval until it holds or d has passed.
func waitFor(d, interval time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
}

// ready polls /readyz until it says 200, for at most d.
func (c *client) ready(d time.Duration) bool {
	return waitFor(d, 100*time.Millisecond, func() bool {
		r, err := c.try("GET", "/readyz", "", nil)
		return err == nil && r.Status == http.StatusOK
	})
}
