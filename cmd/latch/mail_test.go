package main

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/e2e"
	"github.com/latchauth/latch/internal/mail/mailtest"
)

// The email flows end to end: the real binary talks SMTP to a server on
// loopback, and the test follows the links in the delivered messages.

const mailPublicURL = "https://auth.example.test"

// nextMail waits for a message to addr, newer than the first skip
// messages, whose subject contains subject.
func nextMail(t *testing.T, srv *mailtest.Server, skip int, addr, subject string) mailtest.Received {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		msgs := srv.Messages()
		for _, m := range msgs[min(skip, len(msgs)):] {
			if len(m.To) == 1 && m.To[0] == addr && strings.Contains(strings.ToLower(m.Subject), subject) {
				return m
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no message to %s about %q within 30 s", addr, subject)
	return mailtest.Received{}
}

func tokenIn(t *testing.T, m mailtest.Received, page string) string {
	t.Helper()
	link := m.Link(mailPublicURL + "/" + page + "?token=")
	if link == "" {
		t.Fatalf("no %s link in %q:\n%s", page, m.Subject, m.Text)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("token")
}

func TestMailEndToEnd(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{Username: "latch", Password: "smtp pass word"})
	dir := t.TempDir()
	p := e2e.Start(t, dir, "LATCH_SMTP_URL="+srv.URL(), "LATCH_PUBLIC_URL="+mailPublicURL, "LATCH_PASSWORDLESS=on", "LATCH_PRODUCT_NAME=Acme")
	base := p.URL
	const addr, pw = "mailer@example.com", "a long and lovely passphrase"

	// Sign up → verify → log in.
	r := e2e.Expect(t, "signup", e2e.Do(t, "POST", base+"/v1/signup", "", map[string]any{"email": addr, "password": pw}), 202)
	if r.Body["status"] != "verification_sent" {
		t.Fatalf("signup: %v", r.Body)
	}
	e2e.Expect(t, "login before verifying", e2e.Do(t, "POST", base+"/v1/token", "", map[string]any{"grant_type": "password", "email": addr, "password": pw}), 403)
	m := nextMail(t, srv, 0, addr, "confirm")
	if !strings.Contains(m.Subject, "Acme") {
		t.Errorf("subject without the product name: %q", m.Subject)
	}
	e2e.Expect(t, "verify", e2e.Do(t, "POST", base+"/v1/verify", "", map[string]any{"token": tokenIn(t, m, "verify"), "password": pw}), 200)
	r = e2e.Expect(t, "login", e2e.Do(t, "POST", base+"/v1/token", "", map[string]any{"grant_type": "password", "email": addr, "password": pw}), 200)
	oldRefresh := r.Body["refresh_token"].(string)

	// Forgot password → reset → old sessions dead → log in.
	n := len(srv.Messages())
	e2e.Expect(t, "recover", e2e.Do(t, "POST", base+"/v1/recover", "", map[string]any{"email": addr}), 202)
	m = nextMail(t, srv, n, addr, "reset")
	const pw2 = "another lovely passphrase"
	e2e.Expect(t, "reset", e2e.Do(t, "POST", base+"/v1/recover/confirm", "", map[string]any{"token": tokenIn(t, m, "recover"), "password": pw2}), 204)
	e2e.Expect(t, "old session", e2e.Do(t, "POST", base+"/v1/token", "", map[string]any{"grant_type": "refresh_token", "refresh_token": oldRefresh}), 400)
	nextMail(t, srv, n, addr, "password")
	r = e2e.Expect(t, "login with the new password", e2e.Do(t, "POST", base+"/v1/token", "", map[string]any{"grant_type": "password", "email": addr, "password": pw2}), 200)
	access := r.Body["access_token"].(string)

	// Change email.
	const addr2 = "moved@example.com"
	n = len(srv.Messages())
	e2e.Expect(t, "change email", e2e.Do(t, "PATCH", base+"/v1/user", access, map[string]any{"email": addr2, "current_password": pw2}), 202)
	nextMail(t, srv, n, addr, "change")
	m = nextMail(t, srv, n, addr2, "confirm")
	changeTok := tokenIn(t, m, "email-change")
	r = e2e.Expect(t, "confirm email", e2e.Do(t, "POST", base+"/v1/user/email/confirm", "", map[string]any{"token": changeTok}), 200)
	if r.Body["email"] != addr2 {
		t.Fatalf("confirm: %v", r.Body)
	}
	e2e.Expect(t, "login at the new address", e2e.Do(t, "POST", base+"/v1/token", "", map[string]any{"grant_type": "password", "email": addr2, "password": pw2}), 200)

	// Passwordless sign-in by code.
	n = len(srv.Messages())
	e2e.Expect(t, "otp", e2e.Do(t, "POST", base+"/v1/otp", "", map[string]any{"email": addr2}), 202)
	m = nextMail(t, srv, n, addr2, "code")
	code := regexp.MustCompile(`\b\d{6}\b`).FindString(m.Text)
	r = e2e.Expect(t, "otp grant", e2e.Do(t, "POST", base+"/v1/token", "", map[string]any{"grant_type": "otp", "email": addr2, "code": code}), 200)
	if r.Body["access_token"] == nil {
		t.Fatalf("otp grant: %v", r.Body)
	}
	metrics := p.Metrics(t)
	for _, want := range []string{`latch_security_events_total{type="mail.processed"}`, "latch_mail_outbox_messages"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// Nothing secret in the log: no link token, no SMTP password.
	logs := p.Logs()
	for _, secret := range []string{changeTok, "smtp pass word", code} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds a secret %q", secret)
		}
	}
}

// TestMailSurvivesRestart: a message asked for while the mail server is
// down, and the process then killed with SIGKILL, is delivered by the
// next process: the outbox is in the database, written before the 202.
func TestMailSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	dead := "smtp://" + e2e.FreeAddr(t) + "?tls=none" // nothing listens there
	env := []string{"LATCH_PUBLIC_URL=" + mailPublicURL, "LATCH_SIGNUP_REQUIRE_VERIFICATION=off"}
	p := e2e.Start(t, dir, append(env, "LATCH_SMTP_URL="+dead)...)
	const addr = "patient@example.com"
	e2e.Expect(t, "signup", e2e.Do(t, "POST", p.URL+"/v1/signup", "", map[string]any{"email": addr, "password": "a long and lovely passphrase"}), 201)
	e2e.Expect(t, "recover", e2e.Do(t, "POST", p.URL+"/v1/recover", "", map[string]any{"email": addr}), 202)
	// Killed once it has failed to deliver: the message waits in the
	// outbox for its next attempt.
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(p.Logs(), "delivery failed"); {
		if time.Now().After(deadline) {
			t.Fatalf("no failed delivery logged:\n%s", p.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := p.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.Wait(10 * time.Second)

	srv := mailtest.Start(t, mailtest.Options{})
	p = e2e.Start(t, dir, append(env, "LATCH_SMTP_URL="+srv.URL())...)
	m := nextMail(t, srv, 0, addr, "reset")
	e2e.Expect(t, "reset", e2e.Do(t, "POST", p.URL+"/v1/recover/confirm", "", map[string]any{"token": tokenIn(t, m, "recover"), "password": "the restarted passphrase"}), 204)
}

// TestMailToLog: without an SMTP server, on a developer's machine (a
// loopback public URL), messages and their links go to the log, so
// development needs no mail server. Elsewhere the links stay out of the
// log: TestStartWarnings.
func TestMailToLog(t *testing.T) {
	dir := t.TempDir()
	const devURL = "http://localhost:8080"
	p := e2e.Start(t, dir, "LATCH_PUBLIC_URL="+devURL, "LATCH_SIGNUP_REQUIRE_VERIFICATION=on")
	const addr = "dev@example.com"
	e2e.Expect(t, "signup", e2e.Do(t, "POST", p.URL+"/v1/signup", "", map[string]any{"email": addr, "password": "a long and lovely passphrase"}), 202)
	deadline := time.Now().Add(20 * time.Second)
	re := regexp.MustCompile(regexp.QuoteMeta(devURL+"/verify?token=") + `([A-Za-z0-9_-]{43})`)
	var tok string
	for tok == "" && time.Now().Before(deadline) {
		for _, line := range strings.Split(p.Logs(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) != nil {
				continue
			}
			if mm := re.FindStringSubmatch(line); mm != nil && rec["to"] == addr {
				tok = mm[1]
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if tok == "" {
		t.Fatalf("no verification link in the log:\n%s", p.Logs())
	}
	e2e.Expect(t, "verify from the logged link", e2e.Do(t, "POST", p.URL+"/v1/verify", "", map[string]any{"token": tok, "password": "a long and lovely passphrase"}), 200)
}
