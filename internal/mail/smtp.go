package mail

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// SMTPOptions tunes an SMTP mailer. The zero value is the defaults.
type SMTPOptions struct {
	// Timeout bounds each part of one connection: the dial, then the
	// set-up (greeting, EHLO, STARTTLS, AUTH), then the transaction (MAIL,
	// RCPT, DATA). 0 means 10s.
	Timeout time.Duration
	// Retries is how many extra attempts one Send makes after a transient
	// failure (a network error, a timeout, a 4xx answer). 0 means 2;
	// a negative value means none.
	Retries int
	// Backoff is the wait before the first retry, doubled before each next
	// one, at most 30s. 0 means 1s.
	Backoff time.Duration
	// TLSConfig, when set, is used for STARTTLS and smtps (RootCAs for a
	// private CA or a test server, ServerName). ServerName defaults to the
	// URL's host and MinVersion to TLS 1.2. It is cloned, not modified.
	TLSConfig *tls.Config
	// LocalName is the name latch gives in EHLO; "" means this machine's
	// host name.
	LocalName string
}

// maxBackoff caps the doubling, so many retries never wait minutes.
const maxBackoff = 30 * time.Second

// SMTP sends messages through an SMTP submission server with go-mail.
//
// Each Send opens a fresh connection, sends one message and quits: latch
// sends little mail (a verification, a reset, a notice), so a pool would
// add state and stale-connection handling for no gain. An SMTP value is
// safe for concurrent use.
type SMTP struct {
	server    endpoint
	from      *mail.Address
	fromHost  string // the domain of from, for Message-IDs
	timeout   time.Duration
	retries   int
	backoff   time.Duration
	tlsConfig *tls.Config
	localName string
}

var _ Mailer = (*SMTP)(nil)

// NewSMTP returns a mailer for the server named by rawURL, sending from from.
//
// rawURL is one of
//
//	smtp://[user:pass@]host[:port][?tls=starttls|opportunistic|none]
//	smtps://[user:pass@]host[:port]
//
// smtp:// defaults to port 587 and tls=starttls: the server must offer
// STARTTLS and its certificate must verify, or nothing is sent.
// tls=opportunistic uses STARTTLS when offered and goes on without it
// otherwise; tls=none never uses TLS (for a relay on the same machine or a
// test). smtps:// is TLS from the first byte, port 465 by default.
//
// The user name and password are %-decoded; when present, latch logs in with
// SMTP AUTH (PLAIN, or LOGIN if that is all the server offers). It sends the
// password only over TLS, unless the URL says tls=none explicitly: with
// tls=opportunistic and a server that does not offer STARTTLS, Send fails
// rather than send the password in clear.
//
// from is the From address, plain ("auth@example.com") or with a name
// ("Example <auth@example.com>"). Errors never contain the password.
func NewSMTP(rawURL, from string, o SMTPOptions) (*SMTP, error) {
	ep, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	s := &SMTP{server: ep, timeout: o.Timeout, retries: o.Retries, backoff: o.Backoff, localName: o.LocalName}

	if hasControl(from) {
		return nil, fmt.Errorf("mail: from address: a line break or another control character")
	}
	s.from, err = mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("mail: from address %q: %w", from, err)
	}
	at := strings.LastIndex(s.from.Address, "@")
	if at < 0 || at == len(s.from.Address)-1 {
		return nil, fmt.Errorf("mail: from address %q has no domain", from)
	}
	s.fromHost = s.from.Address[at+1:]

	switch {
	case s.timeout == 0:
		s.timeout = 10 * time.Second
	case s.timeout < 0:
		return nil, fmt.Errorf("mail: negative SMTP timeout %v", s.timeout)
	}
	switch {
	case s.retries == 0:
		s.retries = 2
	case s.retries < 0:
		s.retries = 0
	}
	switch {
	case s.backoff == 0:
		s.backoff = time.Second
	case s.backoff < 0:
		return nil, fmt.Errorf("mail: negative SMTP backoff %v", s.backoff)
	}
	if hasControl(s.localName) || strings.ContainsAny(s.localName, " ") {
		return nil, fmt.Errorf("mail: SMTP local name %q: a space or a control character", s.localName)
	}

	if o.TLSConfig != nil {
		s.tlsConfig = o.TLSConfig.Clone()
	} else {
		s.tlsConfig = &tls.Config{}
	}
	if s.tlsConfig.ServerName == "" {
		s.tlsConfig.ServerName = ep.host
	}
	if s.tlsConfig.MinVersion == 0 {
		s.tlsConfig.MinVersion = tls.VersionTLS12
	}

	// go-mail checks its options when a client is made: make one now so a
	// bad option fails at start-up rather than at the first Send.
	if _, err := gomail.NewClient(ep.host, s.clientOptions(nil)...); err != nil {
		return nil, fmt.Errorf("mail: SMTP client for %s: %w", s, err)
	}
	return s, nil
}

// String describes the mailer with the password replaced by "xxxxx".
func (s *SMTP) String() string {
	return fmt.Sprintf("%s from %s", s.server, s.from)
}

// LogValue describes the mailer for slog, without the password.
func (s *SMTP) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("url", s.server.String()),
		slog.String("from", s.from.String()),
		slog.Duration("timeout", s.timeout),
		slog.Int("retries", s.retries),
	)
}
