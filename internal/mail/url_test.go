package mail

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		raw  string
		want endpoint
		pass string
	}{
		{"smtp://mail.example.com", endpoint{host: "mail.example.com", port: 587, security: startTLS}, ""},
		{"SMTP://mail.example.com:2525", endpoint{host: "mail.example.com", port: 2525, security: startTLS}, ""},
		{"smtp://mail.example.com/", endpoint{host: "mail.example.com", port: 587, security: startTLS}, ""},
		{"smtp://mail.example.com?tls=starttls", endpoint{host: "mail.example.com", port: 587, security: startTLS}, ""},
		{"smtp://mail.example.com?tls=opportunistic", endpoint{host: "mail.example.com", port: 587, security: opportunistic}, ""},
		{"smtp://127.0.0.1:25?tls=none", endpoint{host: "127.0.0.1", port: 25, security: plain}, ""},
		{"smtp://[::1]:25?tls=none", endpoint{host: "::1", port: 25, security: plain}, ""},
		{"smtps://mail.example.com", endpoint{host: "mail.example.com", port: 465, security: implicitTLS}, ""},
		{"smtps://mail.example.com:4650", endpoint{host: "mail.example.com", port: 4650, security: implicitTLS}, ""},
		{"smtp://ada:s3cret@mail.example.com", endpoint{host: "mail.example.com", port: 587, security: startTLS, user: "ada"}, "s3cret"},
		{"smtp://ada%40example.com:p%40ss%3Aw%2Fo%3Frd@mail.example.com:587", endpoint{host: "mail.example.com", port: 587, security: startTLS, user: "ada@example.com"}, "p@ss:w/o?rd"},
		{"smtp://ada:p@ss@mail.example.com", endpoint{host: "mail.example.com", port: 587, security: startTLS, user: "ada"}, "p@ss"},
		{"smtp://ada:a+b@mail.example.com", endpoint{host: "mail.example.com", port: 587, security: startTLS, user: "ada"}, "a+b"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, err := parseURL(tt.raw)
			if err != nil {
				t.Fatalf("parseURL: %v", err)
			}
			if pass := got.pass.reveal(); pass != tt.pass {
				t.Errorf("password = %q, want %q", pass, tt.pass)
			}
			got.pass = secret{}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(endpoint{}, secret{})); diff != "" {
				t.Errorf("parseURL (-want +got):\n%s", diff)
			}
		})
	}
}

// The password in every bad URL below is "hunter2" in some spelling; no
// error may contain it.
func TestParseURLErrorsHidePassword(t *testing.T) {
	tests := []struct {
		raw     string
		wantErr string // a part of the error
	}{
		{"", "no scheme"},
		{"mail.example.com:587", "no scheme"},
		{"http://ada:hunter2@mail.example.com", `unknown scheme "http"`},
		{"smtp://ada:hunter2@", "no host"},
		{"smtp://ada:hunter2@:25", "no host"},
		{"smtp://ada:hunter2@mail.example.com:0", `invalid port "0"`},
		{"smtp://ada:hunter2@mail.example.com:70000", `invalid port "70000"`},
		{"smtp://ada:hunter2@mail.example.com:abc", "invalid port"},
		{"smtp://ada:hunter2@mail.example.com?tls=maybe", `unknown tls value "maybe"`},
		{"smtp://ada:hunter2@mail.example.com?tls=none&tls=starttls", "tls given 2 times"},
		{"smtp://ada:hunter2@mail.example.com?tsl=none", `unknown parameter "tsl"`},
		{"smtps://ada:hunter2@mail.example.com?tls=none", "not allowed with smtps"},
		{"smtp://ada:hunter2@mail.example.com/inbox", "unexpected path"},
		{"smtp://ada:hunter2@mail.example.com#frag", "unexpected fragment"},
		{"smtp://ada:hunter2%zz@mail.example.com", "invalid %-escape"},
		{"smtp://ada:%zzhunter2@mail.example.com", "invalid %-escape"},
		{"smtp://ada:hunt%0Aer2@mail.example.com", "control character"},
		{"smtp://:hunter2@mail.example.com", "password without a user name"},
		{"smtp://ada@mail.example.com", "user name without a password"},
		{"smtp://ada:@mail.example.com", "user name without a password"},
		{"smtp://ada:hunter2@mail.exa mple.com", "invalid"},
		{"smtp://ada:hunter2@[::1", "missing ']'"},
		{"smtp://ada:hunter2@mail.example.com:25:26", "invalid host"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			_, err := parseURL(tt.raw)
			if err == nil {
				t.Fatalf("parseURL(%q) = nil error, want one containing %q", tt.raw, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want it to contain %q", err, tt.wantErr)
			}
			for _, secret := range []string{"hunter2", "hunt", "%zz", "er2"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q contains %q from the password", err, secret)
				}
			}
			// NewSMTP reports the same, also without the password.
			_, err = NewSMTP(tt.raw, "auth@example.com", SMTPOptions{})
			if err == nil || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("NewSMTP error %v: want an error without the password", err)
			}
		})
	}
}

func TestSMTPNeverShowsPassword(t *testing.T) {
	s, err := NewSMTP("smtp://ada:hunter2@mail.example.com?tls=opportunistic", "Example <auth@example.com>", SMTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	log := slog.New(slog.NewJSONHandler(&logged, nil))
	log.Info("mailer", "smtp", s, "endpoint", s.server, "pass", s.server.pass)
	log.Info("mailer", slog.Any("smtp", *s))
	shown := map[string]string{
		"String":   s.String(),
		"%v":       fmt.Sprintf("%v", s),
		"%+v":      fmt.Sprintf("%+v", *s),
		"%#v":      fmt.Sprintf("%#v", *s),
		"%s pass":  fmt.Sprintf("%s %v %q %x", s.server.pass, s.server.pass, s.server.pass, s.server.pass),
		"endpoint": fmt.Sprintf("%+v %#v", s.server, s.server),
		"slog":     logged.String(),
	}
	for how, text := range shown {
		if strings.Contains(text, "hunter2") || strings.Contains(text, "68756e74657232") {
			t.Errorf("%s shows the password: %s", how, text)
		}
	}
	if want := "smtp://ada:xxxxx@mail.example.com:587?tls=opportunistic"; !strings.Contains(s.String(), want) {
		t.Errorf("String() = %q, want it to contain %q", s.String(), want)
	}
}

func TestNewSMTPOptions(t *testing.T) {
	tests := []struct {
		name    string
		from    string
		o       SMTPOptions
		wantErr string
	}{
		{"plain from", "auth@example.com", SMTPOptions{}, ""},
		{"named from", "Example Auth <auth@example.com>", SMTPOptions{}, ""},
		{"quoted name", `"Example, Inc." <auth@example.com>`, SMTPOptions{}, ""},
		{"empty from", "", SMTPOptions{}, "from address"},
		{"not an address", "auth", SMTPOptions{}, "from address"},
		{"injected from", "auth@example.com\r\nBcc: x@example.com", SMTPOptions{}, "control character"},
		{"two addresses", "a@example.com, b@example.com", SMTPOptions{}, "from address"},
		{"negative timeout", "auth@example.com", SMTPOptions{Timeout: -time.Second}, "negative SMTP timeout"},
		{"negative backoff", "auth@example.com", SMTPOptions{Backoff: -time.Second}, "negative SMTP backoff"},
		{"bad local name", "auth@example.com", SMTPOptions{LocalName: "a\r\nb"}, "local name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSMTP("smtp://mail.example.com", tt.from, tt.o)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("NewSMTP: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("NewSMTP error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestNewSMTPDefaults(t *testing.T) {
	s, err := NewSMTP("smtp://mail.example.com", "auth@example.com", SMTPOptions{Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	if s.timeout != 10*time.Second || s.retries != 0 || s.backoff != time.Second {
		t.Errorf("timeout, retries, backoff = %v, %d, %v; want 10s, 0, 1s", s.timeout, s.retries, s.backoff)
	}
	if s.tlsConfig.ServerName != "mail.example.com" {
		t.Errorf("TLS ServerName = %q, want mail.example.com", s.tlsConfig.ServerName)
	}
	s, err = NewSMTP("smtp://mail.example.com", "auth@example.com", SMTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.retries != 2 {
		t.Errorf("retries = %d, want 2", s.retries)
	}
}
