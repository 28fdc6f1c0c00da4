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
		{"addr", c.Addr, "127.0.0.1:8080"},
		{"public url", c.PublicURL, "http://localhost:8080"},
		{"database", c.DatabaseURL, "sqlite:latch.db"},
		{"ttl", c.AccessTokenTTL, 15 * time.Minute},
		{"audience", c.TokenAudience, []string{"http://localhost:8080"}},
		{"max age", c.SessionMaxAge, 720 * time.Hour},
		{"idle", c.SessionIdleTimeout, 168 * time.Hour},
		{"grace", c.RefreshReuseGrace, 10 * time.Second},
		{"alg", c.SigningAlg, "ES256"},
		{"rate limit", c.RateLimit, true},
		{"body", c.MaxBodyBytes, int64(64 << 10)},
		{"secret file", c.SecretFile(), "latch.secret"},
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
	if c.Addr != "0.0.0.0:9000" {
		t.Errorf("addr from file: got %q", c.Addr)
	}
	if c.AccessTokenTTL != 7*time.Minute {
		t.Errorf("env over file: got %v, want 7m", c.AccessTokenTTL)
	}
	if c.SigningAlg != "ES256" {
		t.Errorf("flag over env: got %q, want ES256", c.SigningAlg)
	}
	if c.RateLimit {
		t.Error("rate_limit: false in the file was not applied")
	}
	if diff := cmp.Diff([]string{"api-a", "api-b"}, c.TokenAudience); diff != "" {
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
		kind, dsn, err := Config{DatabaseURL: in}.Database()
		if err != nil || kind != want[0] || dsn != want[1] {
			t.Errorf("%s: got %s %s %v, want %s %s", in, kind, dsn, err, want[0], want[1])
		}
	}
	if got := (Config{DatabaseURL: "sqlite:/data/x.db"}).SecretFile(); got != "/data/latch.secret" {
		t.Errorf("secret file: got %s", got)
	}
}

// Secrets cannot reach logs or error messages through formatting.
func TestSecretRedacted(t *testing.T) {
	s := Secret("hunter2-hunter2-hunter2-hunter2-hunter2")
	for _, got := range []string{s.String(), fmt.Sprint(s), fmt.Sprintf("%v", Config{SecretKey: s}), s.LogValue().String()} {
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
		if c.MemoryLimit != tc.want {
			t.Errorf("LATCH_MEMORY_LIMIT=%q: MemoryLimit = %d, want %d", tc.in, c.MemoryLimit, tc.want)
		}
	}
	for _, in := range []string{"96MB", "96 MiB", "-1", "1.5GiB", "MiB", "lots", "9999999TiB", "16MiB"} {
		_, err := Load(Sources{Getenv: envFrom(map[string]string{"LATCH_MEMORY_LIMIT": in})})
		if err == nil || !strings.Contains(err.Error(), "LATCH_MEMORY_LIMIT") {
			t.Errorf("LATCH_MEMORY_LIMIT=%q: err = %v, want a LATCH_MEMORY_LIMIT problem", in, err)
		}
	}
}
