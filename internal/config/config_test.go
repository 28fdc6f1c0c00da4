package config

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func envFrom(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaults(t *testing.T) {
	c, err := Load(Sources{})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"addr", c.HTTP.Addr, "127.0.0.1:8080"},
		{"metrics addr", c.Ops.MetricsAddr, "127.0.0.1:9090"},
		{"client ip header", c.HTTP.ClientIPHeader, HeaderXForwardedFor},
		{"public url", c.HTTP.PublicURL, "http://localhost:8080"},
		{"database", c.Database.URL, "sqlite:latch.db"},
		{"ttl", c.Tokens.AccessTTL, 15 * time.Minute},
		{"audience", c.Tokens.Audience, []string{"http://localhost:8080"}},
		{"max age", c.Tokens.SessionMaxAge, 720 * time.Hour},
		{"idle", c.Tokens.SessionIdleTimeout, 168 * time.Hour},
		{"grace", c.Tokens.RefreshReuseGrace, 10 * time.Second},
		{"alg", c.Tokens.SigningAlg, "ES256"},
		{"rate limit", c.Limits.RateLimit, true},
		{"body", c.HTTP.MaxBodyBytes, int64(64 << 10)},
		{"secret file", c.Database.SecretFile(), "latch.secret"},
	}
	for _, ch := range checks {
		if diff := cmp.Diff(ch.want, ch.got); diff != "" {
			t.Errorf("%s: (-want +got)\n%s", ch.name, diff)
		}
	}
}

// defaults < file < environment < flags.
func TestPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "latch.yaml")
	yaml := "addr: 0.0.0.0:9000\naccess_token_ttl: 5m\nsigning_alg: EdDSA\nrate_limit: false\ntoken_audience: [api-a, api-b]\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(Sources{
		File:   file,
		Getenv: envFrom(map[string]string{"LATCH_ACCESS_TOKEN_TTL": "7m", "LATCH_SIGNING_ALG": "RS256"}),
		Flags:  map[string]string{"signing_alg": "ES256"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Addr != "0.0.0.0:9000" {
		t.Errorf("addr from file: got %q", c.HTTP.Addr)
	}
	if c.Tokens.AccessTTL != 7*time.Minute {
		t.Errorf("env over file: got %v, want 7m", c.Tokens.AccessTTL)
	}
	if c.Tokens.SigningAlg != "ES256" {
		t.Errorf("flag over env: got %q, want ES256", c.Tokens.SigningAlg)
	}
	if c.Limits.RateLimit {
		t.Error("rate_limit: false in the file was not applied")
	}
	if diff := cmp.Diff([]string{"api-a", "api-b"}, c.Tokens.Audience); diff != "" {
		t.Errorf("audience list: %s", diff)
	}
}

// Every problem is reported at once, one per line.
func TestValidationReportsEveryProblem(t *testing.T) {
	_, err := Load(Sources{Getenv: envFrom(map[string]string{
		"LATCH_ADDR":             "nonsense",
		"LATCH_PUBLIC_URL":       "ftp://x",
		"LATCH_DATABASE_URL":     "mysql://x",
		"LATCH_ACCESS_TOKEN_TTL": "forever",
		"LATCH_SIGNING_ALG":      "HS256",
		"LATCH_SECRET_KEY":       "short",
		"LATCH_RATE_LIMIT":       "maybe",
		"LATCH_TLS_CERT_FILE":    "cert.pem",
	})})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{"LATCH_ADDR", "LATCH_PUBLIC_URL", "LATCH_DATABASE_URL", "LATCH_ACCESS_TOKEN_TTL: not a duration", "LATCH_SIGNING_ALG", "LATCH_SECRET_KEY: too short", "LATCH_RATE_LIMIT: want on or off", "LATCH_TLS_KEY_FILE"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "short\n") || strings.Contains(msg, `"short"`) {
		t.Errorf("error echoes the secret: %s", msg)
	}
}

func TestPostgresNeedsSecretKey(t *testing.T) {
	_, err := Load(Sources{Getenv: envFrom(map[string]string{"LATCH_DATABASE_URL": "postgres://u@h/db"})})
	if err == nil || !strings.Contains(err.Error(), "required with PostgreSQL") {
		t.Fatalf("got %v, want a LATCH_SECRET_KEY error", err)
	}
}

func TestFileErrors(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"unknown key": "adress: x\n",
		"bad yaml":    "addr: [\n",
		"mapping":     "addr:\n  host: x\n",
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			f := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".yaml")
			if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(Sources{File: f}); err == nil {
				t.Fatalf("%q: no error", body)
			}
		})
	}
	if _, err := Load(Sources{File: filepath.Join(dir, "missing.yaml")}); err == nil {
		t.Fatal("missing file: no error")
	}
}

func TestDatabaseKinds(t *testing.T) {
	for in, want := range map[string][2]string{
		"sqlite:latch.db":             {SQLite, "latch.db"},
		"sqlite:///var/lib/latch.db":  {SQLite, "/var/lib/latch.db"},
		"postgres://u@h:5432/d":       {Postgres, "postgres://u@h:5432/d"},
		"postgresql://u@h:5432/d?x=y": {Postgres, "postgresql://u@h:5432/d?x=y"},
	} {
		d, err := parseDatabase(in)
		if err != nil || d.Kind != want[0] || d.DSN != want[1] {
			t.Errorf("%s: got %s %s %v, want %s %s", in, d.Kind, d.DSN, err, want[0], want[1])
		}
	}
	if got := (Database{DSN: "/data/x.db"}).SecretFile(); got != "/data/latch.secret" {
		t.Errorf("secret file: got %s", got)
	}
}

// Secrets cannot reach logs or error messages through formatting.
func TestSecretRedacted(t *testing.T) {
	s := Secret("hunter2-hunter2-hunter2-hunter2-hunter2")
	for _, got := range []string{s.String(), fmt.Sprint(s), fmt.Sprintf("%v", Config{Tokens: Tokens{SecretKey: s}}), s.LogValue().String()} {
		if strings.Contains(got, "hunter2") {
			t.Errorf("secret leaked: %s", got)
		}
	}
}

func TestSettingsNames(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Settings() {
		if seen[s.Name] {
			t.Errorf("duplicate setting %s", s.Name)
		}
		seen[s.Name] = true
		if !strings.HasPrefix(s.Env(), "LATCH_") || strings.Contains(s.Flag(), "_") {
			t.Errorf("%s: env %s flag %s", s.Name, s.Env(), s.Flag())
		}
	}
}

// LATCH_CLIENT_IP_HEADER names exactly one of the two headers, in any
// case; anything else is a start-up error.
func TestClientIPHeader(t *testing.T) {
	for in, want := range map[string]string{"": HeaderXForwardedFor, "x-forwarded-for": HeaderXForwardedFor, "FORWARDED": HeaderForwarded, "Forwarded": HeaderForwarded} {
		c, err := Load(Sources{Getenv: envFrom(map[string]string{"LATCH_CLIENT_IP_HEADER": in})})
		if err != nil || c.HTTP.ClientIPHeader != want {
			t.Errorf("%q: got %q, %v; want %q", in, c.HTTP.ClientIPHeader, err, want)
		}
	}
	for _, bad := range []string{"X-Real-IP", "X-Forwarded-For,Forwarded", "both"} {
		if _, err := Load(Sources{Getenv: envFrom(map[string]string{"LATCH_CLIENT_IP_HEADER": bad})}); err == nil || !strings.Contains(err.Error(), "LATCH_CLIENT_IP_HEADER") {
			t.Errorf("%q: got %v, want a LATCH_CLIENT_IP_HEADER error", bad, err)
		}
	}
}

// LATCH_METRICS_ADDR is a host:port of its own, or off.
func TestMetricsAddr(t *testing.T) {
	for in, want := range map[string]string{"127.0.0.1:0": "127.0.0.1:0", "off": "", "OFF": "", "[::1]:9191": "[::1]:9191"} {
		// Both on port 0, as the tests run them, is two free ports.
		c, err := Load(Sources{Getenv: envFrom(map[string]string{"LATCH_METRICS_ADDR": in, "LATCH_ADDR": "127.0.0.1:0"})})
		if err != nil || c.Ops.MetricsAddr != want {
			t.Errorf("%q: got %q, %v; want %q", in, c.Ops.MetricsAddr, err, want)
		}
	}
	for _, env := range []map[string]string{
		{"LATCH_METRICS_ADDR": "9090"},
		{"LATCH_METRICS_ADDR": "127.0.0.1:8080"},
	} {
		if _, err := Load(Sources{Getenv: envFrom(env)}); err == nil || !strings.Contains(err.Error(), "LATCH_METRICS_ADDR") {
			t.Errorf("%v: got %v, want a LATCH_METRICS_ADDR error", env, err)
		}
	}
}

// Settings that start but are probably mistakes get a warning each at
// start: a plain-HTTP public URL that is not loopback (tokens and links
// over cleartext), credentials in the public URL (they end up in every
// token's iss and every link), trusted proxies that trust everyone (any
// client names its own address), a guessable admin or secret key, a
// metrics listener off loopback. OWASP ASVS 5.0 V13.1 / V13.2
// (configuration), V12.1.1 (TLS), V6.1.x / V11 (secrets of enough entropy).
func TestWarnings(t *testing.T) {
	const strong = "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0wMTIzNDU2Nzg5"
	cases := []struct {
		name string
		env  map[string]string
		want []string // warning events, in order
	}{
		{"defaults", nil, nil},
		{"loopback http", map[string]string{"LATCH_PUBLIC_URL": "http://127.0.0.1:8080"}, nil},
		{"https", map[string]string{"LATCH_PUBLIC_URL": "https://auth.example.com"}, nil},
		{"http not loopback, UI off", map[string]string{"LATCH_PUBLIC_URL": "http://auth.example.com", "LATCH_UI": "off"}, []string{"config.public_url.http"}},
		{"credentials", map[string]string{"LATCH_PUBLIC_URL": "https://user:hunter2@auth.example.com"}, []string{"config.public_url.credentials"}},
		{"trust everyone (IPv4)", map[string]string{"LATCH_TRUSTED_PROXIES": "10.0.0.0/8,0.0.0.0/0"}, []string{"config.trusted_proxies.everyone"}},
		{"trust everyone (IPv6)", map[string]string{"LATCH_TRUSTED_PROXIES": "::/0"}, []string{"config.trusted_proxies.everyone"}},
		{"trusted proxies fine", map[string]string{"LATCH_TRUSTED_PROXIES": "10.0.0.0/8,fd00::/8"}, nil},
		{"admin key strong", map[string]string{"LATCH_ADMIN_KEY": strong}, nil},
		{"admin key one character", map[string]string{"LATCH_ADMIN_KEY": strings.Repeat("a", 40)}, []string{"config.admin_key.weak"}},
		{"admin key two characters", map[string]string{"LATCH_ADMIN_KEY": strings.Repeat("ab", 20)}, []string{"config.admin_key.weak"}},
		{"admin key few characters", map[string]string{"LATCH_ADMIN_KEY": strings.Repeat("passw0rd", 5)}, []string{"config.admin_key.weak"}},
		{"secret key weak", map[string]string{"LATCH_SECRET_KEY": strings.Repeat("xy", 20)}, []string{"config.secret_key.weak"}},
		{"admin key nearly one character", map[string]string{"LATCH_ADMIN_KEY": strings.Repeat("a", 39) + "b"}, []string{"config.admin_key.weak"}},
		{"admin key 32 decimal digits", map[string]string{"LATCH_ADMIN_KEY": "31415926535897932384626433832795"}, []string{"config.admin_key.weak"}},
		{"admin key 32 random hex digits", map[string]string{"LATCH_ADMIN_KEY": "9f86d081884c7d659a2feaa0c55ad015"}, nil},
		{"test keys of this repository", map[string]string{"LATCH_ADMIN_KEY": "test-admin-key-0123456789abcdef0123456789", "LATCH_SECRET_KEY": "e2e-secret-key-0123456789abcdef0123456789"}, nil},
		{"metrics on every interface", map[string]string{"LATCH_METRICS_ADDR": "0.0.0.0:9090"}, []string{"config.metrics_addr.public"}},
		{"metrics on loopback", map[string]string{"LATCH_METRICS_ADDR": "[::1]:9090"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Load(Sources{Getenv: envFrom(c.env)})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range cfg.Warnings() {
				got = append(got, w.Event)
				for _, v := range c.env {
					if len(v) >= 32 && strings.Contains(w.Message, v) || strings.Contains(w.Message, "hunter2") {
						t.Errorf("warning echoes a secret: %s", w.Message)
					}
				}
				if w.Message == "" {
					t.Errorf("%s: empty message", w.Event)
				}
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}

// The public URL is loopback for localhost, 127.0.0.0/8 and [::1] only.
func TestPublicURLLoopback(t *testing.T) {
	for u, want := range map[string]bool{
		"http://localhost:8080": true, "http://127.0.0.1": true, "http://127.1.2.3:9": true, "http://[::1]:8080": true,
		"http://auth.example.com": false, "https://10.0.0.1": false, "http://localhost.example.com": false, "http://[::ffff:127.0.0.1]": true,
	} {
		c, err := Load(Sources{Getenv: envFrom(map[string]string{"LATCH_PUBLIC_URL": u, "LATCH_UI": "off"})})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.HTTP.PublicURLLoopback(); got != want {
			t.Errorf("%s: got %v, want %v", u, got, want)
		}
	}
}

// LATCH_MEMORY_LIMIT takes GOMEMLIMIT's syntax, auto (the default) and off.
func TestMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"", 0}, // unset: the default, auto
		{"auto", 0},
		{"off", math.MaxInt64},
		{"96MiB", 96 << 20},
		{"1GiB", 1 << 30},
		{"65536KiB", 64 << 20},
		{"268435456", 256 << 20},
		{"268435456B", 256 << 20},
		{"1TiB", 1 << 40},
	} {
		c, err := Load(Sources{Getenv: envFrom(map[string]string{"LATCH_MEMORY_LIMIT": tc.in})})
		if err != nil {
			t.Errorf("LATCH_MEMORY_LIMIT=%q: %v", tc.in, err)
			continue
		}
		if c.Passwords.MemoryLimit != tc.want {
			t.Errorf("LATCH_MEMORY_LIMIT=%q: MemoryLimit = %d, want %d", tc.in, c.Passwords.MemoryLimit, tc.want)
		}
	}
	for _, in := range []string{"96MB", "96 MiB", "-1", "1.5GiB", "MiB", "lots", "9999999TiB", "16MiB"} {
		_, err := Load(Sources{Getenv: envFrom(map[string]string{"LATCH_MEMORY_LIMIT": in})})
		if err == nil || !strings.Contains(err.Error(), "LATCH_MEMORY_LIMIT") {
			t.Errorf("LATCH_MEMORY_LIMIT=%q: err = %v, want a LATCH_MEMORY_LIMIT problem", in, err)
		}
	}
}

// A list of structures is one declaration: a sequence of mappings in the
// file, the same in YAML flow form (or JSON) in the environment and on
// the command line, with unknown keys refused and no value echoed. The
// social providers are such a list.
func TestListOfStructures(t *testing.T) {
	var got []Provider
	load := func(t *testing.T, src Sources) error {
		t.Helper()
		c, err := Load(src)
		got = c.Social.Providers
		return err
	}
	file := filepath.Join(t.TempDir(), "latch.yaml")
	yaml := `providers:
  - id: google
    type: google
    client_id: abc
    client_secret: hunter2-hunter2
    scopes: [openid, email]
  - id: gitlab
    type: gitlab
    issuer: https://gitlab.example.com
    client_id: def
    client_secret: hunter2-hunter2
`
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := load(t, Sources{File: file}); err != nil {
		t.Fatal(err)
	}
	want := []Provider{
		{ID: "google", Type: "google", ClientID: "abc", ClientSecret: "hunter2-hunter2", Scopes: []string{"openid", "email"}},
		{ID: "gitlab", Type: "gitlab", Issuer: "https://gitlab.example.com", ClientID: "def", ClientSecret: "hunter2-hunter2"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("from the file (-want +got):\n%s", diff)
	}

	env := `[{"id": "github", "type": "github", "client_id": "x", "client_secret": "y"}]`
	if err := load(t, Sources{File: file, Getenv: envFrom(map[string]string{"LATCH_PROVIDERS": env})}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Provider{{ID: "github", Type: "github", ClientID: "x", ClientSecret: "y"}}, got); diff != "" {
		t.Errorf("the environment over the file (-want +got):\n%s", diff)
	}
	if err := load(t, Sources{Flags: map[string]string{"providers": "[{id: a, type: github, client_id: x, client_secret: y}, {id: b, type: github, client_id: x, client_secret: y}]"}}); err != nil || len(got) != 2 {
		t.Errorf("flag in YAML flow form: got %v, %v; want two items", got, err)
	}

	for name, tc := range map[string]struct{ env, want string }{
		"unknown key":      {`[{id: a, clientid: hunter2-hunter2}]`, `LATCH_PROVIDERS: item 1: unknown key "clientid"`},
		"not a mapping":    {`[{id: a}, hunter2-hunter2]`, "LATCH_PROVIDERS: item 2: want a mapping"},
		"not a list":       {`{id: hunter2-hunter2}`, "LATCH_PROVIDERS: want a list of mappings"},
		"wrong value type": {`[{id: a, scopes: {x: hunter2-hunter2}}]`, "LATCH_PROVIDERS: item 1: a value of the wrong type"},
		"not YAML":         {`[{id: hunter2-hunter2`, "LATCH_PROVIDERS: want a list of mappings in YAML flow form"},
	} {
		t.Run(name, func(t *testing.T) {
			err := load(t, Sources{Getenv: envFrom(map[string]string{"LATCH_PROVIDERS": tc.env})})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the problem echoes a value: %v", err)
			}
		})
	}
	if err := os.WriteFile(file, []byte("providers:\n  - id: a\n    secret: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := load(t, Sources{File: file}); err == nil || !strings.Contains(err.Error(), file+`: providers: item 1: unknown key "secret"`) {
		t.Errorf("unknown key in the file: got %v", err)
	}
}

// LATCH_SMTP_URL is parsed once, at load, into how mail leaves latch, and
// never prints its password.
func TestMailDelivery(t *testing.T) {
	for _, tc := range []struct {
		env          map[string]string
		want         Delivery
		verification bool
	}{
		{nil, DeliverLog, false},
		{map[string]string{"LATCH_PUBLIC_URL": "https://auth.example.com"}, DeliverRedactedLog, false},
		{map[string]string{"LATCH_SMTP_URL": "smtp://u:hunter2@mail.example.com:587"}, DeliverSMTP, true},
		{map[string]string{"LATCH_SMTP_URL": "smtps://u:hunter2@mail.example.com", "LATCH_SIGNUP_REQUIRE_VERIFICATION": "off"}, DeliverSMTP, false},
		{map[string]string{"LATCH_SIGNUP_REQUIRE_VERIFICATION": "on"}, DeliverLog, true},
	} {
		c, err := Load(Sources{Getenv: envFrom(tc.env)})
		if err != nil {
			t.Fatal(err)
		}
		if c.Mail.Delivery != tc.want || c.Mail.RequireVerification != tc.verification {
			t.Errorf("%v: got delivery %d, verification %v; want %d, %v", tc.env, c.Mail.Delivery, c.Mail.RequireVerification, tc.want, tc.verification)
		}
		for _, s := range []string{c.Mail.SMTP.String(), fmt.Sprint(c), fmt.Sprintf("%+v", c.Mail), c.Mail.SMTP.LogValue().String()} {
			if strings.Contains(s, "hunter2") {
				t.Errorf("%v: the SMTP password leaked: %s", tc.env, s)
			}
		}
		if got := c.Mail.SMTP.Reveal(); got != tc.env["LATCH_SMTP_URL"] {
			t.Errorf("Reveal: got %q, want the URL as configured", got)
		}
	}
}

// Every setting is in the README's configuration table: it is the
// documented contract of names.
func TestREADMEListsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range Settings() {
		if !strings.Contains(string(b), "`"+s.Env()+"`") {
			t.Errorf("README lacks %s", s.Env())
		}
	}
}

// The WebAuthn relying party follows the public URL unless set, and is
// checked as browsers will check it: a host name, never an IP address,
// with every origin on it or under it (WebAuthn Level 3 §5.1.3 step 8,
// §7.1 step 9).
func TestWebAuthnRelyingParty(t *testing.T) {
	c, err := Load(Sources{Getenv: envFrom(map[string]string{"LATCH_PUBLIC_URL": "https://Auth.Example.com:8443"})})
	if err != nil {
		t.Fatal(err)
	}
	if c.MFA.RPID != "auth.example.com" || len(c.MFA.Origins) != 1 || c.MFA.Origins[0] != "https://auth.example.com:8443" {
		t.Fatalf("defaults: rp id %q, origins %q", c.MFA.RPID, c.MFA.Origins)
	}
	c, err = Load(Sources{Getenv: envFrom(map[string]string{"LATCH_PUBLIC_URL": "https://auth.example.com",
		"LATCH_WEBAUTHN_RP_ID": "example.com", "LATCH_WEBAUTHN_ORIGINS": "https://auth.example.com,https://app.example.com"})})
	if err != nil || c.MFA.RPID != "example.com" || len(c.MFA.Origins) != 2 {
		t.Fatalf("parent domain: %v, %+v", err, c.MFA)
	}
	// On an IP address, or plain http beyond localhost, passkeys are off
	// rather than the server refused.
	for _, public := range []string{"http://127.0.0.1:8080", "http://latch.test", "https://[::1]:8443"} {
		c, err = Load(Sources{Getenv: envFrom(map[string]string{"LATCH_PUBLIC_URL": public, "LATCH_UI": "off"})})
		if err != nil || c.MFA.RPID != "" {
			t.Fatalf("public URL %s: %v, rp id %q; want passkeys off", public, err, c.MFA.RPID)
		}
	}
	c, err = Load(Sources{Getenv: envFrom(map[string]string{"LATCH_PUBLIC_URL": "http://app.localhost:8080", "LATCH_UI": "off"})})
	if err != nil || c.MFA.RPID != "app.localhost" {
		t.Fatalf("http on a localhost name: %v, rp id %q", err, c.MFA.RPID)
	}
	for _, bad := range []map[string]string{
		{"LATCH_WEBAUTHN_RP_ID": "10.0.0.1"},
		{"LATCH_WEBAUTHN_RP_ID": "example.com", "LATCH_WEBAUTHN_ORIGINS": "https://example.org"},
		{"LATCH_WEBAUTHN_RP_ID": "example.com", "LATCH_WEBAUTHN_ORIGINS": "https://badexample.com"},
		{"LATCH_WEBAUTHN_ORIGINS": "https://x.example.com/path"},
		{"LATCH_WEBAUTHN_RP_ID": "https://example.com"},
		{"LATCH_PUBLIC_URL": "https://auth.example.com", "LATCH_WEBAUTHN_ORIGINS": "http://auth.example.com"},
	} {
		if _, err := Load(Sources{Getenv: envFrom(bad)}); err == nil || !strings.Contains(err.Error(), "LATCH_WEBAUTHN") {
			t.Errorf("%v: got %v, want a LATCH_WEBAUTHN_* problem", bad, err)
		}
	}
}
