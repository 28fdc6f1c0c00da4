package mail

import (
	"crypto/rand"
	"fmt"

	gomail "github.com/wneessen/go-mail"
)

// compose turns a checked Message into go-mail's form: UTF-8,
// quoted-printable, multipart/alternative when there is HTML, with a
// Message-ID and a Date. It is built once per Send, so a retry carries the
// same Message-ID and a receiver can drop a duplicate.
func (s *SMTP) compose(m Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg(
		gomail.WithCharset(gomail.CharsetUTF8),
		gomail.WithEncoding(gomail.EncodingQP),
		gomail.WithNoDefaultUserAgent(),
	)
	msg.SetAddrHeaderFromMailAddress(gomail.HeaderFrom, s.from)
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidMessage, err)
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(rand.Text() + "@" + messageIDHost(s.fromHost))
	msg.SetDate()
	// RFC 3834: keeps vacation responders from answering latch.
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// messageIDHost is the right-hand side of a Message-ID: the sender's domain
// when it is plain ASCII, which a Message-ID must be.
func messageIDHost(domain string) string {
	for _, r := range domain {
		if r <= ' ' || r > '~' || r == '<' || r == '>' || r == '@' {
			return "latch.localdomain"
		}
	}
	return domain
}
