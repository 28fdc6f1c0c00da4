package main

import (
	"encoding/json"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/latchauth/latch/internal/e2e"
	"github.com/latchauth/latch/internal/store/postgres/pgtest"
)

// Metrics are served on a listener of their own, LATCH_METRICS_ADDR
// (loopback by default; 127.0.0.1:0 picks a free port, named in the
// server.start event), never on the public address: they describe every
// user's activity and belong to the operator. off turns them off. OWASP
// ASVS 5.0 V13.4.5 (monitoring endpoints are not exposed publicly);
// DESIGN.md "Passwords and abuse".
func TestMetricsListener(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			var env []string
			if db == "postgres" {
				env = []string{"LATCH_DATABASE_URL=" + pgtest.URL(t), "LATCH_SECRET_KEY=e2e-secret-key-0123456789abcdef0123456789"}
			}
			p := e2e.Start(t, t.TempDir(), env...)
			start := startEvent(t, p)
			m, err := url.Parse(p.MetricsURL)
			if err != nil || m.Path != "/metrics" {
				t.Fatalf("metrics_url %q: want http://HOST:PORT/metrics", p.MetricsURL)
			}
			if start["metrics_addr"] != m.Host || m.Host == strings.TrimPrefix(p.URL, "http://") {
				t.Errorf("server.start: metrics_addr %v, metrics_url %s, url %s: want the metrics on an address of their own", start["metrics_addr"], p.MetricsURL, p.URL)
			}
			if host, _, _ := net.SplitHostPort(m.Host); host != "127.0.0.1" {
				t.Errorf("metrics listen on %s, want 127.0.0.1", host)
			}
			e2e.Expect(t, "signup", e2e.Do(t, "POST", p.URL+"/v1/signup", "", map[string]any{"email": "metrics@example.com", "password": "a long and lovely passphrase"}), 201)
			r := e2e.Expect(t, "public /metrics", e2e.Do(t, "GET", p.URL+"/metrics", "", nil), 404)
			if r.Body["error"] != "not_found" {
				t.Errorf("public /metrics: %v", r.Body)
			}
			text := p.Metrics(t)
			for _, want := range []string{`latch_http_requests_total{method="POST",route="POST /v1/signup",status="201"} 1`, `latch_security_events_total{type="signup"} 1`, "latch_build_info", "latch_password_hash_queue_depth", "latch_password_hash_collections_total"} {
				if !strings.Contains(text, want) {
					t.Errorf("metrics lack %s", want)
				}
			}
			p.Stop(t)
		})
	}

	t.Run("off", func(t *testing.T) {
		p := e2e.Start(t, t.TempDir(), "LATCH_METRICS_ADDR=off")
		if start := startEvent(t, p); start["metrics_addr"] != "off" || p.MetricsURL != "" {
			t.Errorf("server.start with metrics off: %v", start)
		}
		e2e.Expect(t, "public /metrics", e2e.Do(t, "GET", p.URL+"/metrics", "", nil), 404)
	})
}

// startEvent is the server's "server.start" log record.
func startEvent(t *testing.T, p *e2e.Proc) map[string]any {
	t.Helper()
	for _, line := range strings.Split(p.Logs(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["event"] == "server.start" {
			return m
		}
	}
	t.Fatalf("no server.start event; logs:\n%s", p.Logs())
	return nil
}
