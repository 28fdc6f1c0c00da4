package mail_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/latchauth/latch/internal/mail"
	"github.com/latchauth/latch/internal/mail/mailtest"
)

// newMailer is an SMTP mailer for srv (or for url when it is set) with
// short waits, trusting srv's certificate.
func newMailer(t *testing.T, srv *mailtest.Server, rawURL string, o mail.SMTPOptions) *mail.SMTP {
	t.Helper()
	if rawURL == "" {
		rawURL = srv.URL()
	}
	if o.TLSConfig == nil && srv != nil && srv.RootCAs() != nil {
		o.TLSConfig = &tls.Config{RootCAs: srv.RootCAs()}
	}
	if o.Backoff == 0 {
		o.Backoff = 10 * time.Millisecond
	}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	m, err := mail.NewSMTP(rawURL, "Latch Tests <auth@example.com>", o)
	if err != nil {
		t.Fatalf("NewSMTP: %v", err)
	}
	return m
}

// longLink is longer than a quoted-printable line, with characters QP
// must escape ("=") and a path that looks like a soft line break.
const longLink = "https://auth.example.com/v1/verify?token=" +
	"Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4" +
	"&redirect_to=https%3A%2F%2Fapp.example.com%2Fwelcome%3Fa%3D1%26b%3D2&sig=abc=="

func testMessage(to string) mail.Message {
	return mail.Message{
		Kind:    "verify",
		To:      to,
		Subject: "Bienvenue, Zoë — confirme ton adresse ✉",
		Text:    "Héllo Zoë,\n\nOuvre ce lien :\n\n" + longLink + "\n\nÀ bientôt.\n",
		HTML:    `<p>Héllo Zoë,</p><p><a href="` + strings.ReplaceAll(longLink, "&", "&amp;") + `">Confirmer</a></p>`,
	}
}

// userURL is srv's URL with other credentials.
func userURL(t *testing.T, srv *mailtest.Server, user, pass string) string {
	t.Helper()
	u, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(user, pass)
	return u.String()
}

func TestSendEndToEnd(t *testing.T) {
	tests := []struct {
		name     string
		opts     mailtest.Options
		wantTLS  bool
		wantUser string
	}{
		{"plain", mailtest.Options{}, false, ""},
		{"plain with auth", mailtest.Options{Username: "ada", Password: "pa:ss@wörd"}, false, "ada"},
		{"starttls", mailtest.Options{TLS: true}, true, ""},
		{"starttls with auth", mailtest.Options{TLS: true, Username: "ada@example.com", Password: "s3cret/+%"}, true, "ada@example.com"},
		{"implicit tls", mailtest.Options{ImplicitTLS: true}, true, ""},
		{"implicit tls with auth", mailtest.Options{ImplicitTLS: true, Username: "ada", Password: "s3cret"}, true, "ada"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := mailtest.Start(t, tt.opts)
			m := testMessage("zoe@example.com")
			if err := newMailer(t, srv, "", mail.SMTPOptions{}).Send(context.Background(), m); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := srv.Wait(t, 5*time.Second, nil)

			if got.TLS != tt.wantTLS || got.User != tt.wantUser {
				t.Errorf("TLS, user = %v, %q; want %v, %q", got.TLS, got.User, tt.wantTLS, tt.wantUser)
			}
			if got.From != "auth@example.com" || !cmp.Equal(got.To, []string{"zoe@example.com"}) {
				t.Errorf("envelope from %q to %v, want auth@example.com to [zoe@example.com]", got.From, got.To)
			}
			if got.Subject != m.Subject {
				t.Errorf("Subject = %q, want %q", got.Subject, m.Subject)
			}
			if got.Text != m.Text {
				t.Errorf("Text = %q, want %q", got.Text, m.Text)
			}
			if got.HTML != m.HTML {
				t.Errorf("HTML = %q, want %q", got.HTML, m.HTML)
			}
			if link := got.Link("https://auth.example.com/v1/verify"); link != longLink {
				t.Errorf("Link = %q, want %q", link, longLink)
			}
			checkHeaders(t, got)
			if st := srv.Stats(); st.Connections != 1 || st.Accepted != 1 || st.AuthFailures != 0 {
				t.Errorf("stats = %+v, want one connection, one message, no auth failure", st)
			}
		})
	}
}

func checkHeaders(t *testing.T, got mailtest.Received) {
	t.Helper()
	h := got.Header
	if from := h.Get("From"); !strings.Contains(from, "<auth@example.com>") || !strings.Contains(from, "Latch Tests") {
		t.Errorf("From = %q, want Latch Tests <auth@example.com>", from)
	}
	if to := h.Get("To"); to != "<zoe@example.com>" && to != "zoe@example.com" {
		t.Errorf("To = %q, want zoe@example.com", to)
	}
	if id := h.Get("Message-Id"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@example.com>") {
		t.Errorf("Message-ID = %q, want <...@example.com>", id)
	}
	if d, err := h.Date(); err != nil || time.Since(d) > time.Minute {
		t.Errorf("Date = %q (%v), want about now", h.Get("Date"), err)
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "multipart/alternative;") {
		t.Errorf("Content-Type = %q, want multipart/alternative", ct)
	}
	if a := h.Get("Auto-Submitted"); a != "auto-generated" {
		t.Errorf("Auto-Submitted = %q, want auto-generated", a)
	}
	// Every line within SMTP's limit: the long link was folded by QP.
	for i, line := range strings.Split(string(got.Raw), "\r\n") {
		if len(line) > 998 {
			t.Errorf("raw line %d is %d bytes long", i, len(line))
		}
	}
}

func TestSendTextOnly(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	m := testMessage("zoe@example.com")
	m.HTML = ""
	if err := newMailer(t, srv, "", mail.SMTPOptions{}).Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := srv.Wait(t, 5*time.Second, nil)
	if ct := got.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q, want text/plain", ct)
	}
	if got.Text != m.Text || got.HTML != "" {
		t.Errorf("Text, HTML = %q, %q; want %q, empty", got.Text, got.HTML, m.Text)
	}
}

// A rejected login is an error, not permanent (latch's configuration is
// wrong, not the message), and not retried: the same password fails again
// and repeated failures can lock the account.
func TestSendWrongPassword(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{TLS: true, Username: "ada", Password: "right"})
	err := newMailer(t, srv, userURL(t, srv, "ada", "wrong-hunter2"), mail.SMTPOptions{}).
		Send(context.Background(), testMessage("zoe@example.com"))
	if err == nil {
		t.Fatal("Send with a wrong password: nil error")
	}
	if mail.IsPermanent(err) {
		t.Errorf("IsPermanent(%v) = true, want false", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %q shows the password", err)
	}
	if st := srv.Stats(); st.AuthFailures != 1 || st.Connections != 1 || st.Accepted != 0 {
		t.Errorf("stats = %+v, want one connection, one auth failure, no message", st)
	}
}

func TestSendRetriesTransientFailure(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	srv.Fail(1, 451)
	if err := newMailer(t, srv, "", mail.SMTPOptions{}).Send(context.Background(), testMessage("zoe@example.com")); err != nil {
		t.Fatalf("Send: %v", err)
	}
	st := srv.Stats()
	if attempts := st.Rejected + st.Accepted; attempts != 2 || st.Accepted != 1 || st.Connections != 2 {
		t.Errorf("stats = %+v, want 2 attempts on 2 connections, the second accepted", st)
	}
	// The retry is the same message, with the same Message-ID.
	if len(srv.Messages()) != 1 {
		t.Errorf("%d messages arrived, want 1", len(srv.Messages()))
	}
}

func TestSendGivesUpAfterRetries(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	srv.Fail(10, 421)
	err := newMailer(t, srv, "", mail.SMTPOptions{Retries: 2}).Send(context.Background(), testMessage("zoe@example.com"))
	if err == nil {
		t.Fatal("Send: nil error, want one after 3 attempts")
	}
	if mail.IsPermanent(err) {
		t.Errorf("IsPermanent(%v) = true, want false for 421", err)
	}
	if !strings.Contains(err.Error(), "3 attempts") || !strings.Contains(err.Error(), "421") {
		t.Errorf("error %q, want it to say 3 attempts and 421", err)
	}
	if st := srv.Stats(); st.Rejected != 3 || st.Connections != 3 {
		t.Errorf("stats = %+v, want 3 rejected attempts", st)
	}
}

func TestSendPermanentFailure(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	srv.Fail(1, 550)
	err := newMailer(t, srv, "", mail.SMTPOptions{}).Send(context.Background(), testMessage("nobody@example.com"))
	if err == nil {
		t.Fatal("Send: nil error, want the 550")
	}
	if !mail.IsPermanent(err) {
		t.Errorf("IsPermanent(%v) = false, want true for 550", err)
	}
	if st := srv.Stats(); st.Connections != 1 || st.Rejected != 1 || st.Accepted != 0 {
		t.Errorf("stats = %+v, want one attempt and no retry", st)
	}
}

func TestSendServerNotListening(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	start := time.Now()
	err = newMailer(t, nil, "smtp://"+addr+"?tls=none", mail.SMTPOptions{Timeout: 2 * time.Second}).
		Send(context.Background(), testMessage("zoe@example.com"))
	if err == nil {
		t.Fatal("Send to a closed port: nil error")
	}
	if mail.IsPermanent(err) {
		t.Errorf("IsPermanent(%v) = true, want false: the server may come back", err)
	}
	if !strings.Contains(err.Error(), "3 attempts") {
		t.Errorf("error %q, want 3 attempts: refused connections are retried", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Send took %v, want well under the 2s timeout", d)
	}
}

// silentServer accepts connections and never says a word.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// wantSendStops sends a message with m and ctx, and fails unless Send
// returns want within 3s; how says when it should have stopped.
func wantSendStops(t *testing.T, m *mail.SMTP, ctx context.Context, want error, how string) {
	t.Helper()
	start := time.Now()
	err := m.Send(ctx, testMessage("zoe@example.com"))
	if !errors.Is(err, want) {
		t.Errorf("Send = %v, want %v", err, want)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Send took %v, want it to stop %s", d, how)
	}
}

func TestSendContextCancelled(t *testing.T) {
	t.Run("during the conversation", func(t *testing.T) {
		addr := silentServer(t)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		m := newMailer(t, nil, "smtp://"+addr+"?tls=none", mail.SMTPOptions{Timeout: 30 * time.Second})
		wantSendStops(t, m, ctx, context.DeadlineExceeded, "at once after a 200ms context")
	})
	t.Run("waiting to retry", func(t *testing.T) {
		srv := mailtest.Start(t, mailtest.Options{})
		srv.Fail(1, 451)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(200*time.Millisecond, cancel)
		m := newMailer(t, srv, "", mail.SMTPOptions{Backoff: time.Minute})
		wantSendStops(t, m, ctx, context.Canceled, "waiting when cancelled")
	})
	t.Run("before it starts", func(t *testing.T) {
		srv := mailtest.Start(t, mailtest.Options{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := newMailer(t, srv, "", mail.SMTPOptions{}).Send(ctx, testMessage("zoe@example.com"))
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Send = %v, want context.Canceled", err)
		}
		if n := len(srv.Messages()); n != 0 {
			t.Errorf("%d messages arrived, want none", n)
		}
	})
}

func TestSendRefusesBadMessages(t *testing.T) {
	good := testMessage("zoe@example.com")
	tests := []struct {
		name string
		edit func(*mail.Message)
	}{
		{"CRLF in subject", func(m *mail.Message) { m.Subject = "Hello\r\nBcc: victim@example.com" }},
		{"LF in subject", func(m *mail.Message) { m.Subject = "Hello\nBcc: victim@example.com" }},
		{"CR in subject", func(m *mail.Message) { m.Subject = "Hello\rBcc: victim@example.com" }},
		{"CRLF in to", func(m *mail.Message) { m.To = "zoe@example.com\r\nBcc: victim@example.com" }},
		{"LF in to", func(m *mail.Message) { m.To = "zoe@example.com\nBcc: victim@example.com" }},
		{"two recipients", func(m *mail.Message) { m.To = "zoe@example.com, victim@example.com" }},
		{"display name", func(m *mail.Message) { m.To = "Zoë <zoe@example.com>" }},
		{"angle brackets", func(m *mail.Message) { m.To = "<zoe@example.com>" }},
		{"not an address", func(m *mail.Message) { m.To = "zoe" }},
		{"empty to", func(m *mail.Message) { m.To = "" }},
		{"empty subject", func(m *mail.Message) { m.Subject = "" }},
		{"empty text", func(m *mail.Message) { m.Text = "  \n" }},
	}
	srv := mailtest.Start(t, mailtest.Options{})
	mailers := map[string]mail.Mailer{
		"smtp": newMailer(t, srv, "", mail.SMTPOptions{}),
		"log":  mail.NewLog(discardLogger()),
	}
	for _, tt := range tests {
		for name, mailer := range mailers {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				m := good
				tt.edit(&m)
				err := mailer.Send(context.Background(), m)
				if !errors.Is(err, mail.ErrInvalidMessage) {
					t.Fatalf("Send = %v, want ErrInvalidMessage", err)
				}
				if !mail.IsPermanent(err) {
					t.Errorf("IsPermanent(%v) = false, want true", err)
				}
			})
		}
	}
	if st := srv.Stats(); st.Connections != 0 {
		t.Errorf("%d connections, want none: bad messages fail before dialing", st.Connections)
	}
}

func TestSendTLSRequirements(t *testing.T) {
	t.Run("starttls required but not offered", func(t *testing.T) {
		srv := mailtest.Start(t, mailtest.Options{})
		err := newMailer(t, srv, "smtp://"+srv.Addr(), mail.SMTPOptions{}).Send(context.Background(), testMessage("zoe@example.com"))
		if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
			t.Fatalf("Send = %v, want an error about STARTTLS", err)
		}
		if mail.IsPermanent(err) {
			t.Errorf("IsPermanent(%v) = true, want false", err)
		}
		if st := srv.Stats(); st.Connections != 1 || st.Accepted != 0 {
			t.Errorf("stats = %+v, want one connection (no retry) and no message", st)
		}
	})
	t.Run("opportunistic uses starttls when offered", func(t *testing.T) {
		srv := mailtest.Start(t, mailtest.Options{TLS: true})
		err := newMailer(t, srv, "smtp://"+srv.Addr()+"?tls=opportunistic", mail.SMTPOptions{}).
			Send(context.Background(), testMessage("zoe@example.com"))
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
		if got := srv.Wait(t, 5*time.Second, nil); !got.TLS {
			t.Error("message came without TLS, want STARTTLS")
		}
	})
	t.Run("opportunistic without starttls keeps the password", func(t *testing.T) {
		srv := mailtest.Start(t, mailtest.Options{Username: "ada", Password: "hunter2"})
		rawURL := strings.Replace(srv.URL(), "tls=none", "tls=opportunistic", 1)
		err := newMailer(t, srv, rawURL, mail.SMTPOptions{}).Send(context.Background(), testMessage("zoe@example.com"))
		if err == nil || !strings.Contains(err.Error(), "without TLS") {
			t.Fatalf("Send = %v, want a refusal to log in without TLS", err)
		}
		if mail.IsPermanent(err) {
			t.Errorf("IsPermanent(%v) = true, want false", err)
		}
		if st := srv.Stats(); st.AuthFailures != 0 || st.Connections != 1 || st.Accepted != 0 {
			t.Errorf("stats = %+v, want no login attempt and no retry", st)
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		for _, opts := range []mailtest.Options{{TLS: true}, {ImplicitTLS: true}} {
			srv := mailtest.Start(t, opts)
			m, err := mail.NewSMTP(srv.URL(), "auth@example.com", mail.SMTPOptions{Backoff: 10 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			err = m.Send(context.Background(), testMessage("zoe@example.com"))
			if err == nil || !strings.Contains(err.Error(), "certificate") {
				t.Fatalf("Send to %s = %v, want a certificate error", srv.URL(), err)
			}
			if st := srv.Stats(); st.Connections != 1 || st.Accepted != 0 {
				t.Errorf("%s: stats = %+v, want one connection (no retry) and no message", srv.URL(), st)
			}
		}
	})
}

func TestSendConcurrently(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{TLS: true, Username: "ada", Password: "s3cret"})
	mailer := newMailer(t, srv, "", mail.SMTPOptions{})
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			errs <- mailer.Send(context.Background(), testMessage(fmt.Sprintf("user%d@example.com", i)))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Send: %v", err)
		}
	}
	if got := len(srv.Messages()); got != n {
		t.Errorf("%d messages arrived, want %d", got, n)
	}
}
