package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/latchauth/latch/internal/store"
)

// Store is the part of store.Store the recorder writes to.
type Store interface {
	AppendAudit(ctx context.Context, e store.AuditEvent) (int64, error)
	DeleteAuditBefore(ctx context.Context, t time.Time) (int64, error)
}

// Prune removes the events older than retention (0 keeps them all) and
// returns how many it removed.
func (r *Recorder) Prune(ctx context.Context, retention time.Duration) (int64, error) {
	if retention <= 0 || r.store == nil {
		return 0, nil
	}
	n, err := r.store.DeleteAuditBefore(ctx, r.now().UTC().Add(-retention))
	if err != nil {
		return n, fmt.Errorf("clean up audit events: %w", err)
	}
	return n, nil
}

// Recorder writes security events.
type Recorder struct {
	store  Store
	log    *slog.Logger
	now    func() time.Time
	counts *prometheus.CounterVec
}

// New returns a Recorder; reg may be nil (no metrics).
func New(s Store, log *slog.Logger, now func() time.Time, reg prometheus.Registerer) *Recorder {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Recorder{store: s, log: log, now: now, counts: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "latch_security_events_total",
		Help: "Security events by type (login.success, login.failure, login.throttled, refresh.reuse, ...); types that would tell whether an account exists are counted together (signup, mail.processed).",
	}, []string{"type"})}
	if reg != nil {
		reg.MustRegister(r.counts)
	}
	return r
}

// Event is one security event. Zero fields are left empty.
type Event struct {
	Type      string
	UserID    string
	SessionID string
	IP        string
	UserAgent string
	Detail    map[string]any
}

// warnTypes are logged at Warn: they mean someone is probably attacking.
var warnTypes = map[string]bool{"login.throttled": true, "refresh.reuse": true, "address.throttled": true, "webauthn.sign_count": true}

// countedAs is the metric label an event type is counted under. Metrics
// are read by more people and systems than the audit trail, and in
// aggregate: a count split by whether an account exists lets anyone who
// sees the metrics test an address (sign up with it, or ask for its
// reset link, and watch which counter moves). So the types that differ
// only in that are counted under one label, and only the trail and the
// log keep them apart:
//
//   - signup.existing (a sign-up for a taken address, answered exactly
//     as a new one) counts as signup;
//   - mail.sent and mail.dropped (the outbox found no one to write to:
//     no such account, or already verified) count as mail.processed.
//
// mail.retry and mail.failed are left as they are: they move only while
// the mail server is failing, and they are what an operator alerts on.
func countedAs(typ string) string {
	switch typ {
	case "signup.existing":
		return "signup"
	case "mail.sent", "mail.dropped":
		return "mail.processed"
	}
	return typ
}

// Record stores, logs and counts e. It never fails the caller: a store
// error is logged (the log line still carries the event).
func (r *Recorder) Record(ctx context.Context, e Event) {
	r.counts.WithLabelValues(countedAs(e.Type)).Inc()
	attrs := []any{"event", e.Type}
	for _, kv := range [][2]string{{"user_id", e.UserID}, {"session_id", e.SessionID}, {"ip", e.IP}} {
		if kv[1] != "" {
			attrs = append(attrs, kv[0], kv[1])
		}
	}
	for k, v := range e.Detail {
		attrs = append(attrs, k, v)
	}
	level := slog.LevelInfo
	if warnTypes[e.Type] {
		level = slog.LevelWarn
	}
	r.log.Log(ctx, level, "security event", attrs...)
	if r.store == nil {
		return
	}
	var detail json.RawMessage
	if len(e.Detail) > 0 {
		detail, _ = json.Marshal(e.Detail)
	}
	// Detached from the request's cancellation, so an event that happened
	// is recorded even if the client has gone; but never past the
	// request's deadline, so a slow or locked database cannot hold the
	// answer (or SQLite's single writer) longer than the request may take.
	deadline := time.Now().Add(5 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	ctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	defer cancel()
	if _, err := r.store.AppendAudit(ctx, store.AuditEvent{
		Time: r.now().UTC(), Type: e.Type, UserID: e.UserID, SessionID: e.SessionID,
		IP: e.IP, UserAgent: Truncate(e.UserAgent, 512), Detail: detail,
	}); err != nil {
		r.log.ErrorContext(ctx, "audit event not stored", "event", e.Type, "error", err)
	}
}

// Count counts an event without storing it: frequent, routine events
// (a refresh) that metrics should show but the trail need not keep. An
// event whose type is folded into another for the metrics (countedAs) is
// also logged at Debug under its own type, so the distinction the metrics
// drop is still there for whoever reads the log.
func (r *Recorder) Count(typ string) {
	label := countedAs(typ)
	r.counts.WithLabelValues(label).Inc()
	if label != typ {
		r.log.Debug("security event", "event", typ, "counted_as", label)
	}
}

// Truncate cuts s to at most n bytes on a rune boundary, for text stored
// in a column of bounded size: the trail's user agent, the outbox's last
// error.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
