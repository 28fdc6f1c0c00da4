package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"sync"
	"syscall"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Send delivers m, returning nil once the server accepted it.
//
// m is checked first (one plain To address, no line break in the subject):
// a bad message fails with ErrInvalidMessage before any connection. A
// transient failure (a network error, a timeout, a 4xx answer) is retried
// up to SMTPOptions.Retries times with a doubling wait; a 5xx answer, a
// rejected login or a TLS failure is not, since the same attempt would
// fail the same way. Cancelling ctx stops the dial, the conversation and
// the wait between attempts; the error then matches ctx.Err() with
// errors.Is. IsPermanent tells whether the message itself was refused.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	if err := m.check(); err != nil {
		return err
	}
	msg, err := s.compose(m)
	if err != nil {
		return err
	}
	wait := s.backoff
	for attempt := 1; ; attempt++ {
		stage, err := s.attempt(ctx, msg)
		if err == nil {
			return nil
		}
		fail := &sendError{kind: m.Kind, attempts: attempt, err: err}
		if ctx.Err() != nil {
			fail.err = fmt.Errorf("%w: %w", ctx.Err(), err)
			return fail
		}
		retry, permanent := classify(stage, err)
		fail.permanent = permanent
		if !retry || attempt > s.retries {
			return fail
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			fail.err = fmt.Errorf("%w while waiting to retry: %w", ctx.Err(), err)
			return fail
		case <-t.C:
		}
		wait = min(2*wait, maxBackoff)
	}
}

// stage is how far an attempt got, which decides what a failure means.
type stage int

const (
	connecting   stage = iota // dial, greeting, EHLO, STARTTLS, AUTH
	transferring              // MAIL, RCPT, DATA: the message itself
)

// attempt makes one connection and sends msg over it.
func (s *SMTP) attempt(ctx context.Context, msg *gomail.Msg) (stage, error) {
	g := &connGuard{}
	stop := context.AfterFunc(ctx, g.close)
	defer stop()
	// go-mail leaves the connection open when the conversation fails
	// before it returns a client; the guard closes it whatever happened.
	defer g.close()

	c, err := gomail.NewClient(s.server.host, s.clientOptions(g)...)
	if err != nil {
		return connecting, err
	}
	sc, err := c.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return connecting, fmt.Errorf("connect to %s: %w", s.server.addr(), err)
	}
	if err := c.SendWithSMTPClient(sc, msg); err != nil {
		return transferring, err
	}
	// The server has the message: a failed QUIT changes nothing.
	_ = c.CloseWithSMTPClient(sc)
	return transferring, nil
}

// clientOptions configures a go-mail client for one attempt. Auth is
// stateful, so each attempt gets its own.
func (s *SMTP) clientOptions(g *connGuard) []gomail.Option {
	opts := []gomail.Option{
		gomail.WithPort(s.server.port),
		gomail.WithTimeout(s.timeout),
		gomail.WithTLSConfig(s.tlsConfig),
		gomail.WithDialContextFunc(s.dialer(g)),
		// One message per connection: no NOOP before it, no RSET after
		// it, whose failure go-mail would report for a delivered message.
		gomail.WithoutNoop(),
		gomail.WithoutRset(),
	}
	switch s.server.security {
	case startTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case opportunistic:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	case plain:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case implicitTLS:
		// The dialer does the TLS; this stops go-mail trying STARTTLS.
		opts = append(opts, gomail.WithSSL())
	}
	if s.localName != "" {
		opts = append(opts, gomail.WithHELO(s.localName))
	}
	if s.server.user != "" {
		opts = append(opts, gomail.WithSMTPAuthCustom(&login{
			user:       s.server.user,
			pass:       s.server.pass,
			allowNoTLS: s.server.security == plain,
		}))
	}
	return opts
}

// dialer connects, with TLS from the first byte for smtps, and hands the
// connection to g so that cancelling the Send's context closes it. go-mail
// only bounds the dial with the context, not the conversation after it.
func (s *SMTP) dialer(g *connGuard) gomail.DialContextFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := &net.Dialer{}
		var (
			c   net.Conn
			err error
		)
		if s.server.security == implicitTLS {
			c, err = (&tls.Dialer{NetDialer: d, Config: s.tlsConfig}).DialContext(ctx, network, addr)
		} else {
			c, err = d.DialContext(ctx, network, addr)
		}
		if err != nil {
			return nil, err
		}
		if g != nil && !g.hold(c) {
			return nil, errors.New("send cancelled")
		}
		return c, nil
	}
}

// connGuard closes the connection of an attempt once, from whichever side
// comes first: the attempt's end or the context's cancellation.
type connGuard struct {
	mu     sync.Mutex
	conn   net.Conn
	closed bool
}

// hold keeps c for closing; it closes c at once, and reports false, if the
// guard was already closed.
func (g *connGuard) hold(c net.Conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		_ = c.Close()
		return false
	}
	g.conn = c
	return true
}

func (g *connGuard) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	if g.conn != nil {
		_ = g.conn.Close()
		g.conn = nil
	}
}

// classify says whether a failed attempt is worth repeating now, and
// whether the message itself was refused for good.
func classify(st stage, err error) (retry, permanent bool) {
	switch code := replyCode(err); {
	case code == 530 || code == 534 || code == 535 || code == 538:
		// RFC 4954: authentication required, mechanism too weak,
		// credentials invalid, encryption required. Latch's
		// configuration, not the message; the same login fails again
		// and repeated failed logins can lock the account out.
		return false, false
	case code >= 500:
		return false, st == transferring
	case code >= 400:
		return true, false
	}
	if isTLSError(err) || errors.Is(err, errPlaintextAuth) {
		return false, false
	}
	if st == transferring {
		// No reply code: the connection broke during the transaction.
		return true, false
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) {
		return true, false
	}
	// Anything else before the transaction is a mismatch between the URL
	// and the server (no STARTTLS, no AUTH mechanism in common): trying
	// again changes nothing.
	return false, false
}

// replyCode is the SMTP reply code carried by err, or 0.
func replyCode(err error) int {
	var se *gomail.SendError
	if errors.As(err, &se) {
		if c := se.ErrorCode(); c != 0 {
			return c
		}
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}

func isTLSError(err error) bool {
	var (
		verify   *tls.CertificateVerificationError
		alert    tls.AlertError
		record   tls.RecordHeaderError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	if errors.As(err, &verify) || errors.As(err, &alert) || errors.As(err, &record) ||
		errors.As(err, &unknown) || errors.As(err, &hostname) || errors.As(err, &invalid) {
		return true
	}
	// A TLS alert from the peer comes as a net.OpError "remote error".
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error"
}
