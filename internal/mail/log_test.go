package mail_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/mail"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestLogWritesTheLink(t *testing.T) {
	var buf bytes.Buffer
	l := mail.NewLog(slog.New(slog.NewJSONHandler(&buf, nil)))
	m := testMessage("zoe@example.com")
	if err := l.Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("one JSON record: %v\n%s", err, buf.String())
	}
	want := map[string]string{"level": "INFO", "kind": "verify", "to": "zoe@example.com", "subject": m.Subject}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("%s = %v, want %q", k, rec[k], v)
		}
	}
	if text, _ := rec["text"].(string); !strings.Contains(text, longLink) {
		t.Errorf("text = %q, want it to hold the link %q", text, longLink)
	}
}

// A Message logged by accident shows no body: the body holds secrets.
func TestMessageLogValueHidesBody(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	m := testMessage("zoe@example.com")
	log.Info("sending", "message", m)
	if strings.Contains(buf.String(), "token=") {
		t.Errorf("log shows the body: %s", buf.String())
	}
	if !strings.Contains(buf.String(), "zoe@example.com") {
		t.Errorf("log lacks the recipient: %s", buf.String())
	}
	if s := m.String(); strings.Contains(s, "token=") {
		t.Errorf("String() shows the body: %s", s)
	}
}

// Without SMTP on a server that is not the developer's own (a public URL
// that is not loopback), a log that held reset links, verification links
// and sign-in codes would hand accounts to whoever reads it. The
// redacting log mailer writes every kind of message without its links
// and codes, and says that it did. OWASP ASVS 5.0 V16.2.5 (no sensitive
// data in logs), V6.4.x (reset secrets delivered only to the owner).
func TestRedactingLogWritesNoLinksOrCodes(t *testing.T) {
	tpl, err := mail.NewTemplates("Acme", "")
	if err != nil {
		t.Fatal(err)
	}
	const code = "493817"
	for _, kind := range tpl.Kinds() {
		t.Run(kind, func(t *testing.T) {
			m, err := tpl.Render(kind, "zoe@example.com", mail.Data{Link: longLink, Code: code, NewEmail: "new@example.com", Provider: "GitHub", Factor: "YubiKey", IP: "203.0.113.9", ExpiresIn: time.Hour, Time: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)})
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			l := mail.NewRedactingLog(slog.New(slog.NewJSONHandler(&buf, nil)))
			if err := l.Send(context.Background(), m); err != nil {
				t.Fatalf("Send: %v", err)
			}
			out := buf.String()
			for _, secret := range []string{"token=", "Zm9vYmFy", "auth.example.com", code} {
				if strings.Contains(out, secret) {
					t.Errorf("the log holds %q:\n%s", secret, out)
				}
			}
			var rec map[string]any
			if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
				t.Fatalf("one JSON record: %v\n%s", err, out)
			}
			if rec["kind"] != kind || rec["to"] != "zoe@example.com" || rec["subject"] != m.Subject {
				t.Errorf("record: %v", rec)
			}
			if text, _ := rec["text"].(string); strings.Contains(m.Text, longLink) && !strings.Contains(text, "[link removed]") {
				t.Errorf("text = %q, want the link replaced by [link removed]", text)
			}
			if strings.Contains(m.Text, code) && !strings.Contains(rec["text"].(string), "[code removed]") {
				t.Errorf("text = %q, want the code replaced by [code removed]", rec["text"])
			}
			if !strings.Contains(rec["msg"].(string), "links and codes removed") {
				t.Errorf("msg = %q, want it to say links and codes were removed", rec["msg"])
			}
		})
	}
}
