package outbox

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/latchauth/latch/internal/audit"
	"github.com/latchauth/latch/internal/mail"
	"github.com/latchauth/latch/internal/store"
)

// Store is the outbox role of the store the Sender uses.
type Store interface {
	ClaimMail(ctx context.Context, now, until time.Time, limit int) ([]store.OutboxMessage, error)
	RetryMail(ctx context.Context, id int64, next time.Time, lastErr string) error
	DeleteMail(ctx context.Context, id int64) error
}

// Mailer delivers a rendered message; *mail.SMTP and *mail.Log implement
// it.
type Mailer interface {
	Send(ctx context.Context, m mail.Message) error
}

// Composer turns a claimed outbox row into the message to send, or
// answers ErrDrop (wrapped or not) when the row no longer applies: the
// account is gone or disabled, the address is verified already, and so
// on. Any other error is transient: the message is tried again later.
type Composer interface {
	Compose(ctx context.Context, m store.OutboxMessage) (mail.Message, error)
}

// Auditor records delivery events; *audit.Recorder implements it.
type Auditor interface {
	Record(ctx context.Context, e audit.Event)
	Count(typ string)
}

// ErrDrop: the message must not be sent; it is deleted without a
// delivery.
var ErrDrop = errors.New("message no longer applies")

// lease is how long a claimed message is reserved for one sender; a
// sender that dies leaves it to another after this. It outlasts
// sendTimeout, so a slow delivery is never sent twice for that reason.
const lease = time.Minute

// sendTimeout bounds one delivery, SMTP retries included.
const sendTimeout = 30 * time.Second

// retryDelay is the wait before the next attempt after n failures: 10 s
// doubling, at most 30 minutes.
func retryDelay(n int) time.Duration {
	d := 10 * time.Second
	for i := 1; i < n && d < 30*time.Minute; i++ {
		d *= 2
	}
	return min(d, 30*time.Minute)
}

// Sender delivers the outbox.
type Sender struct {
	store   Store
	mailer  Mailer
	compose Composer
	audit   Auditor
	now     func() time.Time
	log     *slog.Logger
	wake    chan struct{}
}

// New returns a Sender. now and log may be nil.
func New(s Store, m Mailer, c Composer, a Auditor, now func() time.Time, log *slog.Logger) *Sender {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sender{store: s, mailer: m, compose: c, audit: a, now: now, log: log, wake: make(chan struct{}, 1)}
}

// Wake tells a running Sender that a message was just enqueued, so that
// it sends at once rather than at its next tick. It never blocks.
func (s *Sender) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// SendAll delivers the messages that are due, a batch at a time, until
// none is left, and returns how many it sent.
func (s *Sender) SendAll(ctx context.Context) (int, error) {
	sent := 0
	for {
		now := s.now().UTC()
		batch, err := s.store.ClaimMail(ctx, now, now.Add(lease), 10)
		if err != nil {
			return sent, err
		}
		if len(batch) == 0 {
			return sent, nil
		}
		for _, m := range batch {
			if s.deliver(ctx, m) {
				sent++
			}
			if ctx.Err() != nil {
				return sent, ctx.Err()
			}
		}
	}
}

// Run delivers mail until ctx ends: at once when woken, and every
// interval for messages enqueued by other instances or due for a retry.
func (s *Sender) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.SendAll(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "outbox: cannot claim messages", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
	}
}

// deliver sends one claimed message and settles its row: deleted once
// sent, dropped or expired; rescheduled after a transient failure.
func (s *Sender) deliver(ctx context.Context, m store.OutboxMessage) bool {
	if !s.now().UTC().Before(m.ExpiresAt) {
		s.audit.Record(ctx, audit.Event{Type: "mail.expired", UserID: m.UserID, Detail: map[string]any{"kind": m.Kind, "attempts": m.Attempts, "last_error": m.LastError}})
		s.settle(ctx, m)
		return false
	}
	msg, err := s.compose.Compose(ctx, m)
	switch {
	case errors.Is(err, ErrDrop):
		s.audit.Count("mail.dropped")
		s.settle(ctx, m)
		return false
	case err != nil:
		s.retry(ctx, m, err)
		return false
	}
	sendCtx, cancel := context.WithTimeout(ctx, sendTimeout)
	err = s.mailer.Send(sendCtx, msg)
	cancel()
	switch {
	case err == nil:
		s.audit.Count("mail.sent")
		s.settle(ctx, m)
		return true
	case mail.IsPermanent(err):
		s.audit.Record(ctx, audit.Event{Type: "mail.failed", UserID: m.UserID, Detail: map[string]any{"kind": m.Kind, "error": err.Error()}})
		s.settle(ctx, m)
		return false
	default:
		s.retry(ctx, m, err)
		return false
	}
}

func (s *Sender) settle(ctx context.Context, m store.OutboxMessage) {
	if err := s.store.DeleteMail(ctx, m.ID); err != nil {
		// The lease runs out and the message is tried again; a second
		// delivery of the same message is the lesser harm.
		s.log.WarnContext(ctx, "outbox: cannot delete a settled message", "id", m.ID, "err", err)
	}
}

func (s *Sender) retry(ctx context.Context, m store.OutboxMessage, cause error) {
	s.audit.Count("mail.retry")
	next := s.now().UTC().Add(retryDelay(m.Attempts + 1))
	s.log.WarnContext(ctx, "outbox: delivery failed; will retry", "id", m.ID, "kind", m.Kind, "attempt", m.Attempts+1, "next", next, "err", cause)
	if err := s.store.RetryMail(ctx, m.ID, next, audit.Truncate(cause.Error(), 500)); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.WarnContext(ctx, "outbox: cannot reschedule a message", "id", m.ID, "err", err)
	}
}
