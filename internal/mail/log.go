package mail

import (
	"context"
	"log/slog"
)

// Log is the development mailer, used when no SMTP URL is configured: it
// sends nothing and writes each message to the log instead, so that a
// developer can follow a verification or reset link on their own machine.
//
// Those links and sign-in codes are secrets, and Log writes them to the log
// on purpose. It is for development only; production configures SMTP.
type Log struct {
	log *slog.Logger
}

var _ Mailer = (*Log)(nil)

// NewLog returns a development mailer writing to log. It panics if log is
// nil: a mailer that drops links silently would be worse than none.
func NewLog(log *slog.Logger) *Log {
	if log == nil {
		panic("mail: NewLog with a nil logger")
	}
	return &Log{log: log}
}

// Send checks m as SMTP.Send does, so header injection fails in development
// too, then logs one Info record with the kind, the recipient, the subject
// and the whole text body, and returns nil.
func (l *Log) Send(ctx context.Context, m Message) error {
	if err := m.check(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	l.log.LogAttrs(ctx, slog.LevelInfo, "mail not sent (no SMTP configured); its text follows",
		slog.String("kind", m.Kind),
		slog.String("to", m.To),
		slog.String("subject", m.Subject),
		slog.String("text", m.Text),
	)
	return nil
}
