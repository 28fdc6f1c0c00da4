package mailtest

import (
	"crypto/subtle"
	"io"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// backend makes one session per SMTP conversation (and a fresh one after
// STARTTLS, as go-smtp does).
type backend struct {
	s *Server
}

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	return &session{s: b.s, tls: isTLS}, nil
}

// session collects one message at a time.
type session struct {
	s    *Server
	tls  bool
	user string // logged in as; "" before AUTH
	from string
	to   []string
}

var _ smtp.AuthSession = (*session)(nil)

var errAuthRequired = &smtp.SMTPError{
	Code:         530,
	EnhancedCode: smtp.EnhancedCode{5, 7, 0},
	Message:      "Authentication required",
}

func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if ss.s.opts.Username == "" || mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		okUser := subtle.ConstantTimeCompare([]byte(username), []byte(ss.s.opts.Username)) == 1
		okPass := subtle.ConstantTimeCompare([]byte(password), []byte(ss.s.opts.Password)) == 1
		if (identity != "" && identity != username) || !okUser || !okPass {
			ss.s.count(func(st *Stats) { st.AuthFailures++ })
			return smtp.ErrAuthFailed
		}
		ss.user = username
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opts.Username != "" && ss.user == "" {
		return errAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(body io.Reader) error {
	raw, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	if rej := ss.s.reject(); rej != nil {
		return rej
	}
	r, err := parse(ss.from, append([]string(nil), ss.to...), raw)
	r.TLS, r.User = ss.tls, ss.user
	if err != nil {
		// Kept all the same: a test can read Raw to see what went wrong.
		ss.s.log.Printf("decode the message to %v: %v", ss.to, err)
	}
	ss.s.keep(r)
	return nil
}

func (ss *session) Reset() {
	ss.from, ss.to = "", nil
}

func (ss *session) Logout() error { return nil }
