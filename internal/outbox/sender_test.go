package outbox

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/audit"
	"github.com/latchauth/latch/internal/mail"
	"github.com/latchauth/latch/internal/mail/mailtest"
	"github.com/latchauth/latch/internal/store"
	"github.com/latchauth/latch/internal/store/sqlite/sqlitetest"
)

// composeFunc is a Composer from a func: the tests decide what each row
// says, or that it is dropped or must wait.
type composeFunc func(context.Context, store.OutboxMessage) (mail.Message, error)

func (f composeFunc) Compose(ctx context.Context, m store.OutboxMessage) (mail.Message, error) {
	return f(ctx, m)
}

var t0 = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

// setup is a Sender on a real SQLite outbox and a real SMTP conversation
// with a server on loopback.
func setup(t *testing.T, c Composer) (*Sender, store.Store, *mailtest.Server, *time.Time) {
	t.Helper()
	db := sqlitetest.Open(t)
	srv := mailtest.Start(t, mailtest.Options{})
	m, err := mail.NewSMTP(srv.URL(), "latch <no-reply@example.com>", mail.SMTPOptions{Retries: -1, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	now := t0
	clock := func() time.Time { return now }
	return New(db, m, c, audit.New(nil, nil, clock, nil), clock, nil), db, srv, &now
}

func enqueue(t *testing.T, db store.Store, kind string) int64 {
	t.Helper()
	id, err := db.EnqueueMail(context.Background(), store.OutboxMessage{Kind: kind, To: "someone@example.com", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// A message is composed, delivered once and deleted; one the composer
// drops is deleted unsent; a transient failure is retried 10 s later,
// then 20 s; an expired one is deleted unsent.
func TestSender(t *testing.T) {
	fail := true
	s, db, srv, now := setup(t, composeFunc(func(_ context.Context, m store.OutboxMessage) (mail.Message, error) {
		switch m.Kind {
		case "drop":
			return mail.Message{}, fmt.Errorf("account gone: %w", ErrDrop)
		case "flaky":
			if fail {
				return mail.Message{}, errors.New("database busy")
			}
		}
		return mail.Message{Kind: m.Kind, To: m.To, Subject: "about " + m.Kind, Text: "hello"}, nil
	}))
	ctx := context.Background()
	enqueue(t, db, "hello")
	enqueue(t, db, "drop")
	enqueue(t, db, "flaky")
	if n, err := s.SendAll(ctx); err != nil || n != 1 {
		t.Fatalf("SendAll = %d, %v; want 1 sent", n, err)
	}
	if got := srv.Messages(); len(got) != 1 || got[0].Subject != "about hello" {
		t.Fatalf("delivered %+v, want the one hello", got)
	}
	if n, _ := db.CountMail(ctx); n != 1 {
		t.Fatalf("outbox holds %d messages, want 1 (the flaky one)", n)
	}
	for i, wait := range []time.Duration{10 * time.Second, 20 * time.Second} {
		*now = now.Add(wait - time.Second)
		if n, _ := s.SendAll(ctx); n != 0 {
			t.Fatalf("retry %d: sent %d before its time", i+1, n)
		}
		*now = now.Add(time.Second)
		if i == 1 {
			fail = false
		}
		if n, err := s.SendAll(ctx); err != nil || (i == 1) != (n == 1) {
			t.Fatalf("retry %d after %v: sent %d, %v", i+1, wait, n, err)
		}
	}
	if n, _ := db.CountMail(ctx); n != 0 {
		t.Fatalf("outbox holds %d messages, want none", n)
	}

	enqueue(t, db, "late")
	*now = t0.Add(2 * time.Hour)
	if n, _ := s.SendAll(ctx); n != 0 {
		t.Fatalf("an expired message was sent")
	}
	if n, _ := db.CountMail(ctx); n != 0 {
		t.Fatalf("an expired message stayed in the outbox")
	}
}

func TestRetryDelay(t *testing.T) {
	for n, want := range map[int]time.Duration{1: 10 * time.Second, 2: 20 * time.Second, 3: 40 * time.Second, 8: 1280 * time.Second, 9: 30 * time.Minute, 50: 30 * time.Minute} {
		if got := retryDelay(n); got != want {
			t.Errorf("retryDelay(%d) = %v, want %v", n, got, want)
		}
	}
}
