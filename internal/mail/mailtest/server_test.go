package mailtest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/google/go-cmp/cmp"
)

// dial opens a go-smtp client to s, over TLS when s speaks it.
func dial(t *testing.T, s *Server) *smtp.Client {
	t.Helper()
	cfg := &tls.Config{RootCAs: s.RootCAs()}
	var (
		c   *smtp.Client
		err error
	)
	switch {
	case s.opts.ImplicitTLS:
		c, err = smtp.DialTLS(s.Addr(), cfg)
	case s.opts.TLS:
		c, err = smtp.DialStartTLS(s.Addr(), cfg)
	default:
		c, err = smtp.Dial(s.Addr())
	}
	if err != nil {
		t.Fatalf("dial %s: %v", s.Addr(), err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// send sends raw from a@example.com to to over c.
func send(c *smtp.Client, to string, raw string) error {
	return c.SendMail("a@example.com", []string{to}, strings.NewReader(raw))
}

func smtpCode(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

func TestURL(t *testing.T) {
	tests := []struct {
		opts Options
		want string
	}{
		{Options{}, "smtp://127.0.0.1:PORT?tls=none"},
		{Options{Username: "ada@example.com", Password: "p:ss w/rd"}, "smtp://ada%40example.com:p%3Ass%20w%2Frd@127.0.0.1:PORT?tls=none"},
		{Options{TLS: true}, "smtp://127.0.0.1:PORT?tls=starttls"},
		{Options{ImplicitTLS: true, Username: "ada", Password: "pw"}, "smtps://ada:pw@127.0.0.1:PORT"},
	}
	for _, tt := range tests {
		s := Start(t, tt.opts)
		port := s.Addr()[strings.LastIndex(s.Addr(), ":")+1:]
		want := strings.Replace(tt.want, "PORT", port, 1)
		if got := s.URL(); got != want {
			t.Errorf("URL() = %q, want %q", got, want)
		}
		u, err := url.Parse(s.URL())
		if err != nil {
			t.Fatal(err)
		}
		if pass, _ := u.User.Password(); u.User.Username() != tt.opts.Username || pass != tt.opts.Password {
			t.Errorf("URL() credentials decode to %q, %q; want %q, %q", u.User.Username(), pass, tt.opts.Username, tt.opts.Password)
		}
		if hasRoots := s.RootCAs() != nil; hasRoots != (tt.opts.TLS || tt.opts.ImplicitTLS) {
			t.Errorf("RootCAs() set = %v with %+v", hasRoots, tt.opts)
		}
	}
}

// A hand-made message with base64 and quoted-printable parts nested in
// multipart/mixed, and an encoded subject, as other mailers send them.
func TestReceivedDecodesMIME(t *testing.T) {
	raw := strings.ReplaceAll(`From: a@example.com
To: zoe@example.com
Subject: =?UTF-8?B?Q2/Du3QgZOKAmeKCrA==?= and =?UTF-8?Q?caf=C3=A9?=
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: base64

SMOpbGxvLAoKaHR0cHM6Ly9hdXRoLmV4YW1wbGUuY29tL3Y
xL3ZlcmlmeT90b2tlbj14eXoK
--inner
Content-Type: text/html; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

<p>H=C3=A9llo, <a href=3D"https://auth.example.com/v1/verify?token=3Dxyz">v=
erify</a></p>
--inner--
--outer
Content-Type: application/pdf
Content-Transfer-Encoding: base64

JVBERi0=
--outer--
`, "\n", "\r\n")
	s := Start(t, Options{})
	if err := send(dial(t, s), "zoe@example.com", raw); err != nil {
		t.Fatalf("send: %v", err)
	}
	got := s.Wait(t, 5*time.Second, nil)
	if want := "Coût d’€ and café"; got.Subject != want {
		t.Errorf("Subject = %q, want %q", got.Subject, want)
	}
	if want := "Héllo,\n\nhttps://auth.example.com/v1/verify?token=xyz\n"; got.Text != want {
		t.Errorf("Text = %q, want %q", got.Text, want)
	}
	if want := `<p>Héllo, <a href="https://auth.example.com/v1/verify?token=xyz">verify</a></p>`; got.HTML != want {
		t.Errorf("HTML = %q, want %q", got.HTML, want)
	}
	if got.From != "a@example.com" || !cmp.Equal(got.To, []string{"zoe@example.com"}) {
		t.Errorf("envelope = %q -> %v", got.From, got.To)
	}
	if got.Header.Get("To") != "zoe@example.com" || string(got.Raw) != raw {
		t.Errorf("Header or Raw not as sent")
	}
}

func TestAuth(t *testing.T) {
	for _, opts := range []Options{
		{Username: "ada", Password: "right"},
		{Username: "ada", Password: "right", TLS: true},
		{Username: "ada", Password: "right", ImplicitTLS: true},
	} {
		t.Run(fmt.Sprintf("tls=%v,implicit=%v", opts.TLS, opts.ImplicitTLS), func(t *testing.T) {
			s := Start(t, opts)
			c := dial(t, s)
			if err := send(c, "zoe@example.com", "Subject: x\r\n\r\nx\r\n"); smtpCode(err) != 530 {
				t.Errorf("send without AUTH = %v, want 530", err)
			}
			if err := c.Auth(sasl.NewPlainClient("", "ada", "wrong")); smtpCode(err) != 535 {
				t.Errorf("AUTH with a wrong password = %v, want 535", err)
			}
			if err := c.Auth(sasl.NewPlainClient("", "ada", "right")); err != nil {
				t.Fatalf("AUTH: %v", err)
			}
			if err := send(c, "zoe@example.com", "Subject: x\r\n\r\nx\r\n"); err != nil {
				t.Fatalf("send after AUTH: %v", err)
			}
			got := s.Wait(t, 5*time.Second, nil)
			if got.User != "ada" || got.TLS != (opts.TLS || opts.ImplicitTLS) {
				t.Errorf("User, TLS = %q, %v", got.User, got.TLS)
			}
			if st := s.Stats(); st.AuthFailures != 1 || st.Accepted != 1 || st.Connections != 1 {
				t.Errorf("stats = %+v, want 1 auth failure, 1 message, 1 connection", st)
			}
		})
	}
}

// Over TLS, AUTH is offered only after STARTTLS, as a real server does.
func TestAuthNeedsStartTLS(t *testing.T) {
	s := Start(t, Options{Username: "ada", Password: "right", TLS: true})
	c, err := smtp.Dial(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("AUTH"); ok {
		t.Error("AUTH offered before STARTTLS")
	}
	if ok, _ := c.Extension("STARTTLS"); !ok {
		t.Error("STARTTLS not offered")
	}
}

func TestFail(t *testing.T) {
	s := Start(t, Options{})
	s.Fail(2, 451)
	c := dial(t, s)
	for i, want := range []int{451, 451, 0} {
		err := send(c, fmt.Sprintf("u%d@example.com", i), "Subject: x\r\n\r\nx\r\n")
		if code := smtpCode(err); code != want {
			t.Errorf("message %d: %v, want code %d", i, err, want)
		}
	}
	s.Fail(1, 550)
	if err := send(c, "u3@example.com", "Subject: x\r\n\r\nx\r\n"); smtpCode(err) != 550 {
		t.Errorf("after Fail(1, 550): %v", err)
	}
	if st := s.Stats(); st.Rejected != 3 || st.Accepted != 1 {
		t.Errorf("stats = %+v, want 3 rejected, 1 accepted", st)
	}
	if msgs := s.Messages(); len(msgs) != 1 || msgs[0].To[0] != "u2@example.com" {
		t.Errorf("messages = %+v, want only u2's", msgs)
	}
}

func TestLink(t *testing.T) {
	r := Received{Text: "Open https://a.example/x?next=https://auth.example.com/evil\n" +
		"or (https://auth.example.com/v1/verify?token=abc&n=1).\n" +
		"Again: https://auth.example.com/v1/verify?token=def\n"}
	tests := []struct{ prefix, want string }{
		{"https://auth.example.com/v1/verify", "https://auth.example.com/v1/verify?token=abc&n=1"},
		{"https://a.example/", "https://a.example/x?next=https://auth.example.com/evil"},
		{"https://auth.example.com/evil", ""},
		{"https://nowhere.example/", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := r.Link(tt.prefix); got != tt.want {
			t.Errorf("Link(%q) = %q, want %q", tt.prefix, got, tt.want)
		}
	}
}

// fakeTB records Fatalf instead of stopping the test.
type fakeTB struct {
	testing.TB
	fatal string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
}

func TestWait(t *testing.T) {
	s := Start(t, Options{})
	if err := send(dial(t, s), "zoe@example.com", "Subject: Hello Zoe\r\n\r\nhi\r\n"); err != nil {
		t.Fatal(err)
	}
	got := s.Wait(t, 5*time.Second, func(r Received) bool { return r.Subject == "Hello Zoe" })
	if got.To[0] != "zoe@example.com" {
		t.Errorf("Wait returned %+v", got)
	}

	f := &fakeTB{TB: t}
	start := time.Now()
	s.Wait(f, 50*time.Millisecond, func(r Received) bool { return r.Subject == "never" })
	if time.Since(start) < 50*time.Millisecond {
		t.Error("Wait gave up before its timeout")
	}
	if !strings.Contains(f.fatal, "1 arrived") || !strings.Contains(f.fatal, `"Hello Zoe"`) {
		t.Errorf("Wait's failure = %q, want it to list the message that arrived", f.fatal)
	}
}

func TestCloseTwice(t *testing.T) {
	s := Start(t, Options{TLS: true})
	s.Close()
	s.Close()
	if _, err := smtp.Dial(s.Addr()); err == nil {
		t.Error("dial after Close succeeded")
	}
}
