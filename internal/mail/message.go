package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"unicode"
)

// Message is one email ready to send.
type Message struct {
	Kind    string // template name, for logs and metrics, e.g. "verify"
	To      string // one plain address
	Subject string
	Text    string // plain-text body
	HTML    string // HTML body; "" for text only
}

// LogValue leaves the bodies out: they carry links and codes, which are
// secrets. The development Log mailer logs the text on purpose.
func (m Message) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("kind", m.Kind),
		slog.String("to", m.To),
		slog.String("subject", m.Subject),
	)
}

// String leaves the bodies out, as LogValue does.
func (m Message) String() string {
	return fmt.Sprintf("%s message to %s: %q", m.Kind, m.To, m.Subject)
}

// Mailer sends messages. Send returns nil once the server accepted the message.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// ErrInvalidMessage is wrapped by the error Send and Render return for a
// message that can never be sent: a malformed or non-plain To address, a
// Subject with a line break or another control character, an empty Text.
// IsPermanent reports true for it.
var ErrInvalidMessage = errors.New("mail: invalid message")

// check refuses what could never be delivered or could inject headers,
// before any connection is made.
func (m Message) check() error {
	if err := checkAddress(m.To); err != nil {
		return err
	}
	if m.Subject == "" {
		return fmt.Errorf("%w: empty subject", ErrInvalidMessage)
	}
	if hasControl(m.Subject) {
		return fmt.Errorf("%w: the subject has a line break or another control character", ErrInvalidMessage)
	}
	if strings.TrimSpace(m.Text) == "" {
		return fmt.Errorf("%w: empty text body", ErrInvalidMessage)
	}
	return nil
}

// checkAddress accepts one plain address, "ada@example.com": no display
// name, no angle brackets, no list, nothing around it.
func checkAddress(to string) error {
	if hasControl(to) {
		return fmt.Errorf("%w: the address has a line break or another control character", ErrInvalidMessage)
	}
	a, err := mail.ParseAddress(to)
	if err != nil || a.Name != "" || a.Address != to {
		return fmt.Errorf("%w: %q is not one plain email address", ErrInvalidMessage, to)
	}
	return nil
}

// hasControl reports whether s has a control character, CR and LF
// included; a tab is allowed.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r != '\t' && unicode.IsControl(r) })
}

// IsPermanent reports whether err means retrying the same message will never
// succeed (an SMTP 5xx answer such as an unknown mailbox, an invalid address);
// transient errors (network, timeouts, 4xx) are not permanent.
//
// Only a refusal of the message itself counts: a 5xx answer to MAIL, RCPT or
// DATA, or a message that fails ErrInvalidMessage's checks. A failure to get
// a session at all (a rejected login, no STARTTLS, an untrusted certificate,
// a 5xx greeting) is about latch's configuration or the server, not the
// message, so it is not permanent: once the operator fixes it, the same
// message goes through.
func IsPermanent(err error) bool {
	if errors.Is(err, ErrInvalidMessage) {
		return true
	}
	var se *sendError
	return errors.As(err, &se) && se.permanent
}

// sendError is what SMTP.Send returns after it has tried.
type sendError struct {
	kind      string
	attempts  int
	permanent bool
	err       error
}

func (e *sendError) Error() string {
	n := "attempt"
	if e.attempts != 1 {
		n = "attempts"
	}
	kind := e.kind
	if kind != "" {
		kind += " "
	}
	return fmt.Sprintf("mail: send %smessage: %d %s: %v", kind, e.attempts, n, e.err)
}

func (e *sendError) Unwrap() error { return e.err }
