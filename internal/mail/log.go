package mail

import (
	"context"
	"log/slog"
	"regexp"
)

// Log is the mailer used when no SMTP URL is configured: it sends nothing
// and writes each message to the log instead.
//
// NewLog is for development: it writes the whole text, links and sign-in
// codes included, so that a developer can follow a verification or reset
// link on their own machine. Those links and codes are secrets — whoever
// reads the log can take the account — so a server anyone else uses gets
// NewRedactingLog, which writes the messages without them.
type Log struct {
	log    *slog.Logger
	redact bool
}

var _ Mailer = (*Log)(nil)

// NewLog returns a development mailer writing to log, links and codes
// included. It panics if log is nil: a mailer that drops links silently
// would be worse than none.
func NewLog(log *slog.Logger) *Log {
	if log == nil {
		panic("mail: NewLog with a nil logger")
	}
	return &Log{log: log}
}

// NewRedactingLog returns a log mailer that writes each message with
// every link replaced by "[link removed]" and every sign-in code by
// "[code removed]": what was sent to whom stays visible, the secrets do
// not reach the log. It panics if log is nil.
func NewRedactingLog(log *slog.Logger) *Log {
	l := NewLog(log)
	l.redact = true
	return l
}

// linkRE matches a link as the templates write them: an absolute http or
// https URL (Render refuses any other), up to the next white space.
var linkRE = regexp.MustCompile(`https?://\S+`)

// codeRE matches a sign-in code: six or more digits standing alone. Dates,
// times and IP addresses in notices have shorter runs.
var codeRE = regexp.MustCompile(`\b\d{6,}\b`)

// withoutSecrets is text with its links and codes replaced.
func withoutSecrets(text string) string {
	text = linkRE.ReplaceAllString(text, "[link removed]")
	return codeRE.ReplaceAllString(text, "[code removed]")
}

// Send checks m as SMTP.Send does, so header injection fails in development
// too, then logs one Info record with the kind, the recipient, the subject
// and the text body (without links and codes for NewRedactingLog), and
// returns nil.
func (l *Log) Send(ctx context.Context, m Message) error {
	if err := m.check(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	msg, text := "mail not sent (no SMTP configured); its text follows", m.Text
	if l.redact {
		msg, text = "mail not sent (no SMTP configured); its text follows, links and codes removed", withoutSecrets(m.Text)
	}
	l.log.LogAttrs(ctx, slog.LevelInfo, msg,
		slog.String("kind", m.Kind),
		slog.String("to", m.To),
		slog.String("subject", m.Subject),
		slog.String("text", text),
	)
	return nil
}
