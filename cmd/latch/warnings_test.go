package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/e2e"
)

// Footguns are named at start, one warning event each (config.Warnings
// has the rules), and on a server that is not the developer's own — no
// SMTP, a public URL that is not loopback — the log mailer writes
// messages without their links and codes, and says so: a reset link in
// a log is an account takeover for whoever reads the log. OWASP ASVS 5.0
// V16.2.5 (no sensitive data in logs), V13.1 (secure configuration).
func TestStartWarnings(t *testing.T) {
	p := e2e.Start(t, t.TempDir(),
		"LATCH_PUBLIC_URL=http://ops:hunter2@auth.example.com", "LATCH_UI=off",
		"LATCH_TRUSTED_PROXIES=0.0.0.0/0",
		"LATCH_ADMIN_KEY="+strings.Repeat("ab", 20),
		"LATCH_SIGNUP_REQUIRE_VERIFICATION=on",
	)
	e2e.Expect(t, "signup", e2e.Do(t, "POST", p.URL+"/v1/signup", "", map[string]any{"email": "warned@example.com", "password": "a long and lovely passphrase"}), 202)
	e2e.Expect(t, "recover", e2e.Do(t, "POST", p.URL+"/v1/recover", "", map[string]any{"email": "warned@example.com"}), 202)

	// The sender delivers in the background: wait for both messages.
	var mails []map[string]any
	deadline := time.Now().Add(20 * time.Second)
	for len(mails) < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		mails = records(p, func(m map[string]any) bool { return strings.HasPrefix(m["msg"].(string), "mail not sent") })
	}
	if len(mails) != 2 {
		t.Fatalf("%d messages logged, want 2; logs:\n%s", len(mails), p.Logs())
	}
	for _, m := range mails {
		text, _ := m["text"].(string)
		if !strings.Contains(text, "[link removed]") || strings.Contains(text, "token=") {
			t.Errorf("%v message: text %q, want its link removed", m["kind"], text)
		}
	}

	events := map[string]bool{}
	for _, m := range records(p, func(m map[string]any) bool { return m["level"] == "WARN" }) {
		if e, ok := m["event"].(string); ok {
			events[e] = true
		}
	}
	for _, e := range []string{"config.public_url.http", "config.public_url.credentials", "config.trusted_proxies.everyone", "config.admin_key.weak", "mail.log.redacted"} {
		if !events[e] {
			t.Errorf("no %s warning; warnings: %v", e, events)
		}
	}
	if strings.Contains(p.Logs(), "hunter2") {
		t.Errorf("the log holds the public URL's password:\n%s", p.Logs())
	}
}

// records are the JSON log records of p that keep returns true for.
func records(p *e2e.Proc, keep func(map[string]any) bool) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(p.Logs(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && keep(m) {
			out = append(out, m)
		}
	}
	return out
}
