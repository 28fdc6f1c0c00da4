package mail_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"

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
