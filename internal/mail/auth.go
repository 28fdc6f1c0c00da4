package mail

import (
	"errors"
	"fmt"
	"slices"

	"github.com/wneessen/go-mail/smtp"
)

// errPlaintextAuth is returned rather than sending credentials over a
// connection without TLS that the URL did not ask for.
var errPlaintextAuth = errors.New("refusing to send the SMTP password over a connection without TLS " +
	"(the server did not offer STARTTLS); use tls=starttls, or tls=none only for a trusted local relay")

// login is latch's SMTP AUTH. It speaks PLAIN, or LOGIN for servers that
// offer only that (some hosted submission services do), and never sends
// the password over a connection without TLS unless the URL said tls=none:
// go-mail's own mechanisms would also send it in clear to a "localhost"
// server under tls=opportunistic, and auto-discovery would pick CRAM-MD5
// over plain text, which latch does not want to depend on.
type login struct {
	user       string
	pass       secret
	allowNoTLS bool      // the URL said tls=none
	inner      smtp.Auth // chosen in Start
}

var _ smtp.Auth = (*login)(nil)

func (a *login) Start(server *smtp.ServerInfo) (string, []byte, error) {
	if !server.TLS && !a.allowNoTLS {
		return "", nil, errPlaintextAuth
	}
	// go-mail's mechanisms check TLS themselves; that check was made above,
	// with tls=none honoured, so they are told not to repeat it.
	switch {
	case slices.Contains(server.Auth, "PLAIN"):
		a.inner = smtp.PlainAuth("", a.user, a.pass.reveal(), server.Name, true)
	case slices.Contains(server.Auth, "LOGIN"):
		a.inner = smtp.LoginAuth(a.user, a.pass.reveal(), server.Name, true)
	case len(server.Auth) == 0:
		return "", nil, errors.New("the URL has a user name and password but the server offers no SMTP AUTH")
	default:
		return "", nil, fmt.Errorf("the server offers SMTP AUTH %v; latch speaks PLAIN and LOGIN", server.Auth)
	}
	return a.inner.Start(server)
}

func (a *login) Next(fromServer []byte, more bool) ([]byte, error) {
	if a.inner == nil {
		return nil, errors.New("SMTP AUTH: Next before Start")
	}
	return a.inner.Next(fromServer, more)
}
