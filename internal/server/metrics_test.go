package server_test

import (
	"context"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latchauth/latch/internal/store"
)

// securityEvents reads latch_security_events_total by type from the
// harness's registry, as a scrape would.
func (h *harness) securityEvents() map[string]float64 {
	h.t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "latch_security_events_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "type" {
					out[l.GetValue()] = m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}

// delta runs action, delivers what it queued, and returns how each
// security-event count moved.
func (h *harness) delta(action func()) map[string]float64 {
	h.t.Helper()
	before := h.securityEvents()
	action()
	h.sendMail()
	d := map[string]float64{}
	for k, v := range h.securityEvents() {
		if v != before[k] {
			d[k] = v - before[k]
		}
	}
	return d
}

// Metrics never split a count by whether an account exists: with
// verification on, signup.existing against signup told which addresses
// were taken, and mail.sent against mail.dropped did the same for
// recovery, resend and sign-in codes. Each pair of requests, one for an
// account and one for an address without one, moves the metrics the
// same way; the audit trail keeps the difference. OWASP ASVS 5.0 V6.3.8
// (no user enumeration), DESIGN.md "Passwords and abuse".
func TestMetricsHideAccountExistence(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		const owner = "owner@example.com"
		post := func(path, email string) func() {
			return func() {
				body := map[string]any{"email": email}
				if path == "/v1/signup" {
					body["password"] = goodPassword
				}
				r := h.do("POST", path, "", body)
				want(t, r, http.StatusAccepted, "")
			}
		}
		post("/v1/signup", owner)()
		h.sendMail()
		for _, path := range []string{"/v1/signup", "/v1/recover", "/v1/verify/resend", "/v1/otp"} {
			t.Run(strings.TrimPrefix(path, "/v1/"), func(t *testing.T) {
				known := h.delta(post(path, owner))
				unknown := h.delta(post(path, "nobody-"+strings.ReplaceAll(path[4:], "/", "-")+"@example.com"))
				if !maps.Equal(known, unknown) {
					t.Errorf("security events moved by %v for an account and by %v for an address without one", known, unknown)
				}
			})
		}
		for typ := range h.securityEvents() {
			if typ == "signup.existing" || typ == "mail.sent" || typ == "mail.dropped" {
				t.Errorf("metrics publish %q, a count that depends on whether an account exists", typ)
			}
		}
		// The audit trail still knows.
		ev, err := h.db.ListAudit(context.Background(), store.ListAuditOptions{Type: "signup.existing"})
		if err != nil || len(ev) != 1 {
			t.Errorf("audit trail: %d signup.existing events (%v), want 1", len(ev), err)
		}
	}, withSMTP(), withEnv("LATCH_PASSWORDLESS", "on"))
}

// /metrics is not on the public listener: it is served by the handler
// the metrics listener (LATCH_METRICS_ADDR, loopback by default) gets.
// OWASP ASVS 5.0 V13.4.5 (monitoring endpoints not exposed publicly).
func TestMetricsOffThePublicRouter(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		h.signup("met@example.com")
		want(t, h.do("GET", "/metrics", "", nil), http.StatusNotFound, "not_found")

		rec := httptest.NewRecorder()
		h.server.Metrics().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		body, _ := io.ReadAll(rec.Body)
		if rec.Code != http.StatusOK {
			t.Fatalf("metrics handler: %d %s", rec.Code, body)
		}
		for _, m := range []string{
			`latch_http_requests_total{method="POST",route="POST /v1/signup",status="201"} 1`,
			`latch_http_requests_total{method="GET",route="/",status="404"} 1`,
			`latch_security_events_total{type="signup"} 1`,
			"latch_build_info",
		} {
			if !strings.Contains(string(body), m) {
				t.Errorf("metrics lack %s:\n%.3000s", m, body)
			}
		}
	})
}
