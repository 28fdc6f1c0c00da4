package mailtest

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Options says what the server asks of its clients.
type Options struct {
	// Username and Password, when set, make AUTH PLAIN required before
	// MAIL; other credentials are refused with 535.
	Username, Password string
	// TLS offers STARTTLS with a freshly generated self-signed certificate
	// for 127.0.0.1 and localhost; see RootCAs. AUTH is then offered only
	// after STARTTLS, as a real submission server does.
	TLS bool
	// ImplicitTLS serves TLS from the first byte (smtps).
	ImplicitTLS bool
}

// Stats counts what happened at the server.
type Stats struct {
	Connections  int // TCP connections accepted
	AuthFailures int // logins refused with 535
	Rejected     int // messages refused on purpose, see Fail
	Accepted     int // messages kept, see Messages
}

// Server is an SMTP server for one test. Its methods are safe for
// concurrent use.
type Server struct {
	opts  Options
	srv   *smtp.Server
	ln    net.Listener
	roots *x509.CertPool
	log   *testLog
	done  chan struct{} // closed when Serve has returned
	once  sync.Once

	mu       sync.Mutex
	msgs     []Received
	failLeft int
	failCode int
	stats    Stats
}

// Start starts a server on 127.0.0.1 with a free port. It is closed when
// the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	if o.TLS && o.ImplicitTLS {
		t.Fatalf("mailtest: Options.TLS and Options.ImplicitTLS are exclusive")
	}
	if (o.Username == "") != (o.Password == "") {
		t.Fatalf("mailtest: Options.Username and Options.Password go together")
	}
	s := &Server{opts: o, log: &testLog{t: t}, done: make(chan struct{})}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailtest: listen: %v", err)
	}
	s.ln = &countingListener{Listener: ln, s: s}

	srv := smtp.NewServer(&backend{s: s})
	srv.Domain = "localhost"
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.MaxMessageBytes = 10 << 20
	srv.MaxRecipients = 50
	srv.EnableSMTPUTF8 = true
	srv.ErrorLog = s.log
	// Without TLS, AUTH has to be allowed in clear or no test could log in.
	srv.AllowInsecureAuth = !o.TLS && !o.ImplicitTLS
	if o.TLS || o.ImplicitTLS {
		cert, roots, err := selfSigned()
		if err != nil {
			t.Fatalf("mailtest: certificate: %v", err)
		}
		s.roots = roots
		cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if o.TLS {
			srv.TLSConfig = cfg
		} else {
			s.ln = tls.NewListener(s.ln, cfg)
		}
	}
	s.srv = srv

	go func() {
		defer close(s.done)
		if err := srv.Serve(s.ln); err != nil && !errors.Is(err, net.ErrClosed) {
			s.log.Printf("serve: %v", err)
		}
	}()
	t.Cleanup(s.Close)
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the server's address as mail.NewSMTP and LATCH_SMTP_URL take it,
// with the credentials of Options: smtp://user:pass@127.0.0.1:port?tls=none,
// ?tls=starttls with Options.TLS, smtps:// with Options.ImplicitTLS. A TLS
// client also needs RootCAs.
func (s *Server) URL() string {
	u := url.URL{Scheme: "smtp", Host: s.Addr(), RawQuery: "tls=none"}
	switch {
	case s.opts.ImplicitTLS:
		u.Scheme, u.RawQuery = "smtps", ""
	case s.opts.TLS:
		u.RawQuery = "tls=starttls"
	}
	if s.opts.Username != "" {
		u.User = url.UserPassword(s.opts.Username, s.opts.Password)
	}
	return u.String()
}

// RootCAs trusts the server's certificate; nil without TLS.
func (s *Server) RootCAs() *x509.CertPool { return s.roots }

// Messages is a copy of the messages accepted so far, oldest first.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.msgs...)
}

// Stats is a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Wait polls until a message for which match is true has arrived, and
// returns it. A nil match takes any message. On timeout it fails the test,
// listing what did arrive.
func (s *Server) Wait(t testing.TB, timeout time.Duration, match func(Received) bool) Received {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msgs := s.Messages()
		for _, m := range msgs {
			if match == nil || match(m) {
				return m
			}
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, m := range msgs {
				fmt.Fprintf(&b, "\n\tto %v: %q", m.To, m.Subject)
			}
			if len(msgs) == 0 {
				b.WriteString(" none")
			}
			t.Fatalf("mailtest: no matching message after %v; %d arrived:%s", timeout, len(msgs), b.String())
			return Received{}
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Fail makes the server refuse the next n messages at the end of DATA with
// code: 4xx for a transient failure (451), 5xx for a permanent one (550).
func (s *Server) Fail(n int, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failLeft, s.failCode = n, code
}

// Close stops the server and drops its connections. It is safe to call
// more than once; Start arranges a call when the test ends.
func (s *Server) Close() {
	s.once.Do(func() {
		s.log.stop()
		_ = s.srv.Close()
		// Also here, in case Serve had not yet registered the listener
		// with go-smtp when Close was called.
		_ = s.ln.Close()
		<-s.done
	})
}

// reject takes one planned failure, if any is left.
func (s *Server) reject() *smtp.SMTPError {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failLeft <= 0 {
		return nil
	}
	s.failLeft--
	s.stats.Rejected++
	return &smtp.SMTPError{
		Code:         s.failCode,
		EnhancedCode: smtp.EnhancedCode{s.failCode / 100, 0, 0},
		Message:      "mailtest: refused on purpose",
	}
}

func (s *Server) keep(r Received) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, r)
	s.stats.Accepted++
}

func (s *Server) count(f func(*Stats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.stats)
}

// countingListener counts accepted connections.
type countingListener struct {
	net.Listener
	s *Server
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.s.count(func(st *Stats) { st.Connections++ })
	}
	return c, err
}

// testLog passes go-smtp's error log to the test until the server closes:
// testing.T must not be used once the test is over.
type testLog struct {
	mu      sync.Mutex
	t       testing.TB
	stopped bool
}

func (l *testLog) Printf(format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopped {
		l.t.Logf("mailtest: "+format, v...)
	}
}

func (l *testLog) Println(v ...any) {
	l.Printf("%s", strings.TrimSuffix(fmt.Sprintln(v...), "\n"))
}

func (l *testLog) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stopped = true
}
