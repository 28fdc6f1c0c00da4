package totp

import (
	"net/url"
	"strings"
	"testing"
)

func TestURIExact(t *testing.T) {
	secret := []byte("Hello!\xde\xad\xbe\xef")
	tests := []struct {
		issuer, account, want string
	}{
		{"Example", "alice@google.com",
			"otpauth://totp/Example:alice%40google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example&algorithm=SHA1&digits=6&period=30"},
		{"ACME Co", "john.doe@email.com",
			"otpauth://totp/ACME%20Co:john.doe%40email.com?secret=JBSWY3DPEHPK3PXP&issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30"},
		{"", "alice",
			"otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&algorithm=SHA1&digits=6&period=30"},
	}
	for _, tt := range tests {
		if got := URI(tt.issuer, tt.account, secret); got != tt.want {
			t.Errorf("URI(%q, %q):\n got %s\nwant %s", tt.issuer, tt.account, got, tt.want)
		}
	}
}

// TestURIRoundTrip parses URI's output as an app would: the label is the
// escaped path split at its first literal ':', each half unescaped, and the
// query parsed; awkward issuers and accounts must come back unchanged.
func TestURIRoundTrip(t *testing.T) {
	secret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ issuer, account string }{
		{"latch", "alice@example.com"},
		{"Acme: Staging", "bob:admin@example.com"},
		{"A/B Testing", "carol/dev@example.com"},
		{"Q&A?", "dave&eve?x=1#frag@example.com"},
		{"100% sure+plus", "frank+tag@example.com"},
		{"Zürich Bank ✓", "josé.niño@exämple.org"},
		{"日本語", "ユーザー@example.jp"},
		{"  spaced  ", " lead and trail "},
		{"semi;colon,comma=eq", "a'b\"c<d>e"},
	}
	for _, tt := range tests {
		t.Run(tt.issuer, func(t *testing.T) {
			raw := URI(tt.issuer, tt.account, secret)
			for _, c := range raw {
				if c > 0x7e || c <= 0x20 {
					t.Fatalf("URI has a raw %q: %s", c, raw)
				}
			}
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatalf("url.Parse: %v", err)
			}
			if u.Scheme != "otpauth" || u.Host != "totp" {
				t.Fatalf("scheme %q host %q, want otpauth totp", u.Scheme, u.Host)
			}
			label := strings.TrimPrefix(u.EscapedPath(), "/")
			if strings.Count(label, ":") != 1 || strings.Contains(label, "/") {
				t.Fatalf("label %q: want exactly one ':' and no '/'", label)
			}
			escIssuer, escAccount, _ := strings.Cut(label, ":")
			issuer, err := url.PathUnescape(escIssuer)
			if err != nil || issuer != tt.issuer {
				t.Errorf("label issuer = %q (%v), want %q", issuer, err, tt.issuer)
			}
			account, err := url.PathUnescape(escAccount)
			if err != nil || account != tt.account {
				t.Errorf("label account = %q (%v), want %q", account, err, tt.account)
			}
			q, err := url.ParseQuery(u.RawQuery)
			if err != nil {
				t.Fatalf("ParseQuery: %v", err)
			}
			want := url.Values{
				"secret":    {Encode(secret)},
				"issuer":    {tt.issuer},
				"algorithm": {"SHA1"},
				"digits":    {"6"},
				"period":    {"30"},
			}
			for k, v := range want {
				if len(q[k]) != 1 || q[k][0] != v[0] {
					t.Errorf("query %s = %q, want %q", k, q[k], v)
				}
			}
			if len(q) != len(want) {
				t.Errorf("query has %d parameters, want %d: %v", len(q), len(want), q)
			}
		})
	}
}
