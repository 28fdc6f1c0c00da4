package config

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Secret is a configuration value that must never reach a log or an error
// message in clear.
type Secret string

// String redacts the value, so fmt and %v print nothing sensitive.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// LogValue redacts the value in slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Config is every setting of a latch server. Load fills it from defaults,
// a YAML file, LATCH_* environment variables and flags, in that order.
type Config struct {
	Addr                      string
	MetricsAddr               string // "": no metrics listener (LATCH_METRICS_ADDR=off)
	PublicURL                 string
	DatabaseURL               string
	SecretKey                 Secret
	AdminKey                  Secret
	AccessTokenTTL            time.Duration
	TokenAudience             []string
	SessionMaxAge             time.Duration
	SessionIdleTimeout        time.Duration
	RefreshReuseGrace         time.Duration
	SigningAlg                string
	RateLimit                 bool
	TLSCertFile               string
	TLSKeyFile                string
	LogFormat                 string // "text", "json" or "" (text on a terminal, else json)
	LogLevel                  slog.Level
	SignupRequireVerification bool
	MaxBodyBytes              int64
	HashConcurrency           int // 0: the number of CPUs
	ShutdownTimeout           time.Duration
	MemoryLimit               int64 // bytes; 0: derived from the hash slots, or GOMEMLIMIT's; math.MaxInt64: off
	TrustedProxies            []netip.Prefix
	ClientIPHeader            string // HeaderXForwardedFor or HeaderForwarded: the one header read from trusted proxies
	CORSOrigins               []string
	BreachedPasswordsURL      string
	BreachedFailClosed        bool
	KeyRotationInterval       time.Duration // 0: off
	KeyReloadInterval         time.Duration
	RequestTimeout            time.Duration
	AuditRetention            time.Duration // 0: keep forever
	CleanupInterval           time.Duration
	AddressRate               float64 // requests per second per client address on credential endpoints
	AddressBurst              int
	SMTPURL                   Secret // "": messages go to the log
	MailFrom                  string
	ProductName               string
	Pages                     Pages
	AppURL                    string // "": links open latch's own pages
	Passwordless              bool
	VerificationTTL           time.Duration
	RecoveryTTL               time.Duration
	OTPTTL                    time.Duration

	// verificationAuto: signup_require_verification is "auto", decided
	// once every source is read: on exactly when SMTP is configured.
	verificationAuto bool
}

// Setting describes one configuration value: its YAML key, environment
// variable and flag are derived from Name, so the four sources cannot
// drift apart.
type Setting struct {
	Name    string // YAML key and flag name with '_' → '-'; env is LATCH_ + upper-case
	Default string
	Usage   string
	set     func(c *Config, v string) error
}

// Env is the setting's environment variable.
func (s Setting) Env() string { return "LATCH_" + strings.ToUpper(s.Name) }

// Flag is the setting's command-line flag name (without dashes).
func (s Setting) Flag() string { return strings.ReplaceAll(s.Name, "_", "-") }

// Settings lists every setting in the order the README documents them.
func Settings() []Setting {
	return append(baseSettings(), pageSettings()...)
}

func baseSettings() []Setting {
	return []Setting{
		{"addr", "127.0.0.1:8080", "listen address (host:port)", func(c *Config, v string) error {
			c.Addr = v
			return nil
		}},
		{"metrics_addr", "127.0.0.1:9090", "listen address (host:port) of the Prometheus metrics, apart from the public one; 127.0.0.1:0 picks a free port (the server.start log event names it); off: no metrics", func(c *Config, v string) error {
			if strings.EqualFold(v, "off") {
				c.MetricsAddr = ""
				return nil
			}
			c.MetricsAddr = v
			return nil
		}},
		{"public_url", "http://localhost:8080", "public URL of this server: the token issuer and link base", func(c *Config, v string) error {
			c.PublicURL = strings.TrimRight(v, "/")
			return nil
		}},
		{"database_url", "sqlite:latch.db", "sqlite:PATH or postgres://...", func(c *Config, v string) error {
			c.DatabaseURL = v
			return nil
		}},
		{"secret_key", "", "secret (≥32 characters) that encrypts signing keys at rest; generated into latch.secret beside the SQLite file when unset", func(c *Config, v string) error {
			c.SecretKey = Secret(v)
			return nil
		}},
		{"admin_key", "", "bearer secret (≥32 characters) for admin endpoints such as introspection; unset: admin endpoints off", func(c *Config, v string) error {
			c.AdminKey = Secret(v)
			return nil
		}},
		{"access_token_ttl", "15m", "access-token lifetime", durationInto(func(c *Config) *time.Duration { return &c.AccessTokenTTL })},
		{"token_audience", "", "aud of access tokens, comma-separated; default: the public URL", func(c *Config, v string) error {
			c.TokenAudience = splitList(v)
			return nil
		}},
		{"session_max_age", "720h", "absolute session lifetime", durationInto(func(c *Config) *time.Duration { return &c.SessionMaxAge })},
		{"session_idle_timeout", "168h", "a session unused this long ends", durationInto(func(c *Config) *time.Duration { return &c.SessionIdleTimeout })},
		{"refresh_reuse_grace", "10s", "window in which the previous refresh token still gets its successor back", durationInto(func(c *Config) *time.Duration { return &c.RefreshReuseGrace })},
		{"signing_alg", "ES256", "access-token signing algorithm: ES256, EdDSA or RS256", func(c *Config, v string) error {
			c.SigningAlg = v
			return nil
		}},
		{"rate_limit", "on", "login throttling: on or off (off only for benchmarks)", boolInto(func(c *Config) *bool { return &c.RateLimit })},
		{"tls_cert_file", "", "serve HTTPS with this certificate (PEM)", func(c *Config, v string) error {
			c.TLSCertFile = v
			return nil
		}},
		{"tls_key_file", "", "private key (PEM) for tls_cert_file", func(c *Config, v string) error {
			c.TLSKeyFile = v
			return nil
		}},
		{"log_format", "", "text or json; default: text on a terminal, else json", func(c *Config, v string) error {
			c.LogFormat = v
			return nil
		}},
		{"log_level", "info", "debug, info, warn or error", func(c *Config, v string) error {
			return c.LogLevel.UnmarshalText([]byte(v))
		}},
		{"signup_require_verification", "auto", "on: signup answers 202 and sign-in needs a verified email; auto: on exactly when smtp_url is set", func(c *Config, v string) error {
			if strings.EqualFold(v, "auto") {
				c.verificationAuto = true
				return nil
			}
			c.verificationAuto = false
			return boolInto(func(c *Config) *bool { return &c.SignupRequireVerification })(c, v)
		}},
		{"max_body_bytes", "65536", "largest request body accepted", func(c *Config, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return errors.New("not a whole number")
			}
			c.MaxBodyBytes = n
			return nil
		}},
		{"hash_concurrency", "0", "password hashes computed at once; 0: the number of CPUs", func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return errors.New("not a whole number")
			}
			c.HashConcurrency = n
			return nil
		}},
		{"memory_limit", "auto", "soft memory limit the Go runtime keeps to, e.g. 96MiB (B, KiB, MiB, GiB or TiB, as GOMEMLIMIT); auto: GOMEMLIMIT if set, else the hash slots' argon2id memory and half as much again; off: none", func(c *Config, v string) error {
			n, err := parseMemoryLimit(v)
			if err != nil {
				return err
			}
			c.MemoryLimit = n
			return nil
		}},
		{"shutdown_timeout", "20s", "how long in-flight requests may run on after SIGTERM", durationInto(func(c *Config) *time.Duration { return &c.ShutdownTimeout })},
		{"trusted_proxies", "", "comma-separated addresses or CIDR ranges of reverse proxies whose X-Forwarded-For / Forwarded headers name the client", func(c *Config, v string) error {
			c.TrustedProxies = nil
			for _, p := range splitList(v) {
				prefix, err := netip.ParsePrefix(p)
				if err != nil {
					addr, aerr := netip.ParseAddr(p)
					if aerr != nil {
						return fmt.Errorf("%q is not an address or CIDR range", p)
					}
					prefix = netip.PrefixFrom(addr, addr.BitLen())
				}
				c.TrustedProxies = append(c.TrustedProxies, prefix.Masked())
			}
			return nil
		}},
		{"client_ip_header", HeaderXForwardedFor, "the one header trusted proxies name the client in: X-Forwarded-For or Forwarded (RFC 7239); the other is never read", func(c *Config, v string) error {
			switch {
			case strings.EqualFold(v, HeaderXForwardedFor):
				c.ClientIPHeader = HeaderXForwardedFor
			case strings.EqualFold(v, HeaderForwarded):
				c.ClientIPHeader = HeaderForwarded
			default:
				return fmt.Errorf("%q: want X-Forwarded-For or Forwarded", v)
			}
			return nil
		}},
		{"cors_origins", "", "comma-separated origins (scheme://host[:port]) allowed to call latch from a browser", func(c *Config, v string) error {
			c.CORSOrigins = nil
			for _, o := range splitList(v) {
				u, err := url.Parse(o)
				if o == "*" || o == "null" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
					return fmt.Errorf("%q is not an origin like https://app.example.com (no *, no null, no path)", o)
				}
				c.CORSOrigins = append(c.CORSOrigins, strings.ToLower(o))
			}
			return nil
		}},
		{"breached_passwords_url", "", "k-anonymity range API (e.g. https://api.pwnedpasswords.com/range/) to refuse breached passwords; unset: off", func(c *Config, v string) error {
			c.BreachedPasswordsURL = v
			return nil
		}},
		{"breached_passwords_fail_closed", "off", "on: refuse new passwords while the breach API cannot be reached; off: let them through", boolInto(func(c *Config) *bool { return &c.BreachedFailClosed })},
		{"key_rotation_interval", "0s", "rotate signing keys automatically this often (e.g. 720h); 0s: only by 'latch keys rotate'", durationInto(func(c *Config) *time.Duration { return &c.KeyRotationInterval })},
		{"audit_retention", "2160h", "audit events older than this are deleted (2160h = 90 days); 0s keeps them forever", durationInto(func(c *Config) *time.Duration { return &c.AuditRetention })},
		{"cleanup_interval", "10m", "how often ended sessions, old throttle counters and expired audit events are removed", durationInto(func(c *Config) *time.Duration { return &c.CleanupInterval })},
		{"request_timeout", "10s", "a request still waiting on the database or the hasher after this long gets 503", durationInto(func(c *Config) *time.Duration { return &c.RequestTimeout })},
		{"key_reload_interval", "30s", "how often each instance reloads signing keys, picking up rotations made elsewhere", durationInto(func(c *Config) *time.Duration { return &c.KeyReloadInterval })},
		{"address_rate", "20", "requests per second each client address may make to the credential endpoints, before login throttling", func(c *Config, v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f <= 0 {
				return errors.New("want a positive number")
			}
			c.AddressRate = f
			return nil
		}},
		{"smtp_url", "", "mail server, smtp://user:pass@host:587 (STARTTLS required; ?tls=opportunistic or ?tls=none to relax) or smtps://...:465; unset: messages and their links are written to the log", func(c *Config, v string) error {
			c.SMTPURL = Secret(v)
			return nil
		}},
		{"mail_from", "", "sender of latch's messages, e.g. \"Example <no-reply@example.com>\"; default: PRODUCT_NAME <no-reply@ the public URL's host>", func(c *Config, v string) error {
			c.MailFrom = v
			return nil
		}},
		{"product_name", "latch", "the name messages and pages show to users", func(c *Config, v string) error {
			c.ProductName = strings.TrimSpace(v)
			return nil
		}},
		{"app_url", "", "base URL of your application's pages that receive links (APP_URL/verify, /recover, /email-change, /otp ?token=...); unset: links open latch's own pages under the public URL", func(c *Config, v string) error {
			c.AppURL = strings.TrimRight(v, "/")
			return nil
		}},
		{"passwordless", "off", "on: sign-in by a code (and, with app_url, a link) sent by email: POST /v1/otp and grant_type=otp", boolInto(func(c *Config) *bool { return &c.Passwordless })},
		{"verification_ttl", "24h", "how long an email verification or email change link stays valid", durationInto(func(c *Config) *time.Duration { return &c.VerificationTTL })},
		{"recovery_ttl", "1h", "how long a password reset link stays valid", durationInto(func(c *Config) *time.Duration { return &c.RecoveryTTL })},
		{"otp_ttl", "10m", "how long a sign-in code or link stays valid", durationInto(func(c *Config) *time.Duration { return &c.OTPTTL })},
		{"address_burst", "40", "burst allowed above address_rate", func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return errors.New("want a whole number of at least 1")
			}
			c.AddressBurst = n
			return nil
		}},
	}
}

// parseMemoryLimit reads a size in GOMEMLIMIT's syntax — a whole number
// of bytes with an optional B, KiB, MiB, GiB or TiB — so that a value
// moves between the two unchanged; "auto" is 0 and "off" math.MaxInt64,
// debug.SetMemoryLimit's "no limit".
func parseMemoryLimit(v string) (int64, error) {
	switch strings.ToLower(v) {
	case "auto":
		return 0, nil
	case "off":
		return math.MaxInt64, nil
	}
	num := strings.TrimRight(v, "BKMGTi")
	shift, ok := map[string]uint{"": 0, "B": 0, "KiB": 10, "MiB": 20, "GiB": 30, "TiB": 40}[v[len(num):]]
	n, err := strconv.ParseInt(num, 10, 64)
	if !ok || err != nil || n < 0 || n > math.MaxInt64>>shift {
		return 0, errors.New("want a size such as 96MiB or 1GiB (B, KiB, MiB, GiB, TiB), auto or off")
	}
	return n << shift, nil
}

func durationInto(field func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return errors.New("not a duration (e.g. 15m, 720h, 10s)")
		}
		*field(c) = d
		return nil
	}
}

func boolInto(field func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		switch strings.ToLower(v) {
		case "on", "true", "1", "yes":
			*field(c) = true
		case "off", "false", "0", "no":
			*field(c) = false
		default:
			return errors.New("want on or off")
		}
		return nil
	}
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Sources are where Load reads settings from, lowest precedence first
// after the defaults.
type Sources struct {
	File   string              // YAML file path; "" for none
	Getenv func(string) string // LATCH_* variables
	Flags  map[string]string   // setting name → value, only flags the user set
}

// Load builds a Config from defaults < YAML file < environment < flags and
// validates it. Every problem is reported in the one returned error, one
// per line.
func Load(src Sources) (Config, error) {
	var c Config
	var problems []string
	settings := Settings()
	byName := make(map[string]Setting, len(settings))
	for _, s := range settings {
		byName[s.Name] = s
		if err := s.set(&c, s.Default); err != nil {
			panic(fmt.Sprintf("config: bad default for %s: %v", s.Name, err)) // a programming error
		}
	}

	if src.File != "" {
		values, err := readFile(src.File)
		if err != nil {
			problems = append(problems, err.Error())
		}
		for _, k := range sortedKeys(values) {
			s, ok := byName[k]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s: unknown setting %q", src.File, k))
				continue
			}
			if err := s.set(&c, values[k]); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %s: %v", src.File, k, err))
			}
		}
	}
	if src.Getenv != nil {
		for _, s := range settings {
			if v := src.Getenv(s.Env()); v != "" {
				if err := s.set(&c, v); err != nil {
					problems = append(problems, fmt.Sprintf("%s: %v", s.Env(), err))
				}
			}
		}
	}
	for _, k := range sortedKeys(src.Flags) {
		s, ok := byName[k]
		if !ok {
			problems = append(problems, fmt.Sprintf("--%s: unknown setting", k))
			continue
		}
		if err := s.set(&c, src.Flags[k]); err != nil {
			problems = append(problems, fmt.Sprintf("--%s: %v", s.Flag(), err))
		}
	}
	if len(c.TokenAudience) == 0 {
		c.TokenAudience = []string{c.PublicURL}
	}
	if c.verificationAuto {
		c.SignupRequireVerification = c.SMTPURL != ""
	}
	if c.MailFrom == "" {
		host := "localhost"
		if u, err := url.Parse(c.PublicURL); err == nil && u.Hostname() != "" {
			host = u.Hostname()
		}
		c.MailFrom = fmt.Sprintf("%s <no-reply@%s>", c.ProductName, host)
	}
	problems = append(problems, c.validate()...)
	problems = append(problems, c.validatePages()...)
	if len(problems) > 0 {
		return c, &Error{Problems: problems}
	}
	return c, nil
}

// Error lists every problem found in a configuration.
type Error struct{ Problems []string }

func (e *Error) Error() string {
	return "invalid configuration:\n  " + strings.Join(e.Problems, "\n  ")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// readFile reads a flat YAML mapping of setting names to scalars (or, for
// lists, sequences of scalars) into strings the setters understand.
func readFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("config file %s: not valid YAML: %v", path, err)
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		switch v := v.(type) {
		case []any:
			parts := make([]string, len(v))
			for i, p := range v {
				parts[i] = fmt.Sprint(p)
			}
			out[k] = strings.Join(parts, ",")
		case bool:
			out[k] = map[bool]string{true: "on", false: "off"}[v]
		case nil:
			out[k] = ""
		case map[string]any:
			return nil, fmt.Errorf("config file %s: %s: want a value, not a mapping", path, k)
		default:
			out[k] = fmt.Sprint(v)
		}
	}
	return out, nil
}

// The headers LATCH_CLIENT_IP_HEADER may name.
const (
	HeaderXForwardedFor = "X-Forwarded-For"
	HeaderForwarded     = "Forwarded"
)

// Database kinds.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Database splits DatabaseURL into its kind and what the driver takes: a
// file path for SQLite, the URL itself for PostgreSQL.
func (c Config) Database() (kind, dsn string, err error) {
	switch {
	case strings.HasPrefix(c.DatabaseURL, "sqlite:"):
		p := strings.TrimPrefix(c.DatabaseURL, "sqlite:")
		p = strings.TrimPrefix(p, "//") // also accept sqlite://path
		if p == "" {
			return "", "", errors.New("database_url: sqlite: needs a file path, e.g. sqlite:latch.db")
		}
		return SQLite, p, nil
	case strings.HasPrefix(c.DatabaseURL, "postgres://"), strings.HasPrefix(c.DatabaseURL, "postgresql://"):
		return Postgres, c.DatabaseURL, nil
	default:
		return "", "", errors.New("database_url: want sqlite:PATH or postgres://USER@HOST/DB")
	}
}

// SecretFile is where a generated secret key is kept for a SQLite
// database: beside the database file.
func (c Config) SecretFile() string {
	_, path, err := c.Database()
	if err != nil {
		return "latch.secret"
	}
	return filepath.Join(filepath.Dir(path), "latch.secret")
}

// MinMemoryLimit is the smallest LATCH_MEMORY_LIMIT accepted.
const MinMemoryLimit = 32 << 20

// MinSecretLen is the shortest secret or admin key accepted: 32 characters
// carry at least 128 bits even when drawn from a small alphabet.
const MinSecretLen = 32

func (c Config) validate() []string {
	var p []string
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		p = append(p, fmt.Sprintf("LATCH_ADDR: %q is not host:port", c.Addr))
	}
	if c.MetricsAddr != "" {
		if _, port, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			p = append(p, fmt.Sprintf("LATCH_METRICS_ADDR: %q is not host:port or off", c.MetricsAddr))
		} else if c.MetricsAddr == c.Addr && port != "0" {
			p = append(p, "LATCH_METRICS_ADDR: must differ from LATCH_ADDR: metrics have a listener of their own")
		}
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		p = append(p, fmt.Sprintf("LATCH_PUBLIC_URL: %q is not an absolute http(s) URL without query or fragment", c.PublicURL))
	}
	kind, _, err := c.Database()
	if err != nil {
		p = append(p, "LATCH_DATABASE_URL: "+strings.TrimPrefix(err.Error(), "database_url: "))
	}
	if c.SecretKey != "" && len(c.SecretKey) < MinSecretLen {
		p = append(p, fmt.Sprintf("LATCH_SECRET_KEY: too short: want at least %d characters (e.g. `openssl rand -base64 32`)", MinSecretLen))
	}
	if c.SecretKey == "" && kind == Postgres {
		p = append(p, "LATCH_SECRET_KEY: required with PostgreSQL, so that every instance shares it")
	}
	if c.AdminKey != "" && len(c.AdminKey) < MinSecretLen {
		p = append(p, fmt.Sprintf("LATCH_ADMIN_KEY: too short: want at least %d characters", MinSecretLen))
	}
	positive := []struct {
		env string
		d   time.Duration
	}{
		{"LATCH_ACCESS_TOKEN_TTL", c.AccessTokenTTL},
		{"LATCH_SESSION_MAX_AGE", c.SessionMaxAge},
		{"LATCH_SESSION_IDLE_TIMEOUT", c.SessionIdleTimeout},
	}
	for _, d := range positive {
		if d.d <= 0 {
			p = append(p, fmt.Sprintf("%s: must be positive", d.env))
		}
	}
	if c.AccessTokenTTL > 24*time.Hour {
		p = append(p, "LATCH_ACCESS_TOKEN_TTL: at most 24h; access tokens cannot be recalled from other services, so keep them short")
	}
	if c.RefreshReuseGrace < 0 || c.RefreshReuseGrace > time.Minute {
		p = append(p, "LATCH_REFRESH_REUSE_GRACE: between 0s and 1m")
	}
	if c.ShutdownTimeout < 0 {
		p = append(p, "LATCH_SHUTDOWN_TIMEOUT: must not be negative")
	}
	switch c.SigningAlg {
	case "ES256", "EdDSA", "RS256":
	default:
		p = append(p, fmt.Sprintf("LATCH_SIGNING_ALG: %q: want ES256, EdDSA or RS256", c.SigningAlg))
	}
	switch c.LogFormat {
	case "", "text", "json":
	default:
		p = append(p, fmt.Sprintf("LATCH_LOG_FORMAT: %q: want text or json", c.LogFormat))
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		p = append(p, "LATCH_TLS_CERT_FILE and LATCH_TLS_KEY_FILE: set both or neither")
	}
	if c.MaxBodyBytes < 1024 || c.MaxBodyBytes > 16<<20 {
		p = append(p, "LATCH_MAX_BODY_BYTES: between 1024 and 16777216")
	}
	if c.HashConcurrency < 0 {
		p = append(p, "LATCH_HASH_CONCURRENCY: must not be negative")
	}
	if c.MemoryLimit != 0 && c.MemoryLimit < MinMemoryLimit {
		p = append(p, "LATCH_MEMORY_LIMIT: at least 32MiB: one argon2id hash takes 19 MiB, and latch needs some memory besides")
	}
	if c.BreachedPasswordsURL != "" {
		if u, err := url.Parse(c.BreachedPasswordsURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			p = append(p, "LATCH_BREACHED_PASSWORDS_URL: want an http(s) URL such as https://api.pwnedpasswords.com/range/")
		}
	}
	if c.KeyRotationInterval < 0 {
		p = append(p, "LATCH_KEY_ROTATION_INTERVAL: must not be negative")
	}
	if c.AuditRetention < 0 {
		p = append(p, "LATCH_AUDIT_RETENTION: must not be negative")
	}
	if c.CleanupInterval < time.Second {
		p = append(p, "LATCH_CLEANUP_INTERVAL: at least 1s")
	}
	if c.RequestTimeout < time.Second || c.RequestTimeout > 5*time.Minute {
		p = append(p, "LATCH_REQUEST_TIMEOUT: between 1s and 5m")
	}
	if c.KeyReloadInterval < time.Second || c.KeyReloadInterval > 10*time.Minute {
		p = append(p, "LATCH_KEY_RELOAD_INTERVAL: between 1s and 10m")
	}
	if c.SMTPURL != "" {
		if u, err := url.Parse(string(c.SMTPURL)); err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
			// The URL may hold a password: never echo it.
			p = append(p, "LATCH_SMTP_URL: want smtp://[user:pass@]host[:port] or smtps://...")
		}
	}
	if c.ProductName == "" || strings.ContainsFunc(c.ProductName, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '<' || r == '>' || r == '"' }) {
		p = append(p, "LATCH_PRODUCT_NAME: must be a non-empty name without control characters, quotes or angle brackets")
	}
	if c.AppURL != "" {
		if u, err := url.Parse(c.AppURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			p = append(p, fmt.Sprintf("LATCH_APP_URL: %q is not an absolute http(s) URL without query or fragment", c.AppURL))
		}
	}
	for _, d := range []struct {
		env string
		d   time.Duration
	}{{"LATCH_VERIFICATION_TTL", c.VerificationTTL}, {"LATCH_RECOVERY_TTL", c.RecoveryTTL}, {"LATCH_OTP_TTL", c.OTPTTL}} {
		if d.d < time.Minute || d.d > 7*24*time.Hour {
			p = append(p, d.env+": between 1m and 168h")
		}
	}
	if c.OTPTTL > time.Hour {
		p = append(p, "LATCH_OTP_TTL: at most 1h; a six-digit code must not live long")
	}
	for _, a := range c.TokenAudience {
		if strings.TrimSpace(a) == "" {
			p = append(p, "LATCH_TOKEN_AUDIENCE: empty audience")
		}
	}
	return p
}

// PublicURLLoopback reports whether the public URL names this machine
// only: the host localhost, or a loopback address (127.0.0.0/8, ::1).
// Plain HTTP and development conveniences are safe there and nowhere else.
func (c Config) PublicURLLoopback() bool {
	u, err := url.Parse(c.PublicURL)
	if err != nil {
		return false
	}
	return loopbackHost(u.Hostname())
}

func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// Warning is a setting that latch accepts but that is probably a
// mistake; serve logs each one at start.
type Warning struct {
	Event   string // the log event, e.g. "config.public_url.http"
	Message string // what is wrong and what to do; never holds a secret
}

// MinKeyBits is the least a key should carry by weakKey's estimate
// (length × log2 of the alphabet its character classes span), in bits.
const MinKeyBits = 128

// Warnings lists the footguns of c: settings that start but weaken latch.
func (c Config) Warnings() []Warning {
	var w []Warning
	add := func(event, msg string) { w = append(w, Warning{Event: event, Message: msg}) }
	if u, err := url.Parse(c.PublicURL); err == nil {
		if u.Scheme == "http" && !loopbackHost(u.Hostname()) {
			add("config.public_url.http", "LATCH_PUBLIC_URL is plain http:// on a host that is not loopback: tokens, passwords and the links in messages travel in clear; use https:// (TLS here or at a proxy)")
		}
		if u.User != nil {
			add("config.public_url.credentials", "LATCH_PUBLIC_URL holds credentials (user:password@): they end up in every token's iss and every link latch mails; remove them")
		}
	}
	for _, p := range c.TrustedProxies {
		if p.Bits() == 0 {
			add("config.trusted_proxies.everyone", fmt.Sprintf("LATCH_TRUSTED_PROXIES holds %s, which trusts every address as a proxy: any client names its own address in %s and walks past the per-address limits; list only your proxies' addresses", p, c.ClientIPHeader))
			break
		}
	}
	if weakKey(string(c.AdminKey)) {
		add("config.admin_key.weak", "LATCH_ADMIN_KEY does not look random (a repeated pattern, few distinct characters, or too short for its alphabet); use a random one, e.g. `openssl rand -base64 32`")
	}
	if weakKey(string(c.SecretKey)) {
		add("config.secret_key.weak", "LATCH_SECRET_KEY does not look random (a repeated pattern, few distinct characters, or too short for its alphabet); it encrypts the signing keys: use a random one, e.g. `openssl rand -base64 32` (changing it needs new signing keys)")
	}
	if c.MetricsAddr != "" {
		if host, _, err := net.SplitHostPort(c.MetricsAddr); err == nil && !loopbackHost(host) {
			add("config.metrics_addr.public", "LATCH_METRICS_ADDR is not a loopback address: the metrics carry no authentication; keep the port firewalled to your Prometheus")
		}
	}
	return w
}

// weakKey reports whether a configured key is set and was evidently not
// drawn at random: it repeats a shorter string ("abab…", "passw0rdpassw0rd…"),
// it has fewer than 8 distinct characters, or its length times log2 of
// the alphabet its character classes span (lower case 26, upper case 26,
// digits 10, other ASCII 33, anything else 100) is under MinKeyBits. A
// random key from `openssl rand -base64 32` or `-hex 16` passes; 32
// decimal digits (106 bits) do not.
func weakKey(k string) bool {
	if k == "" {
		return false
	}
	r := []rune(k)
	for p := 1; p <= len(r)/2; p++ {
		periodic := true
		for i := p; i < len(r) && periodic; i++ {
			periodic = r[i] == r[i-p]
		}
		if periodic {
			return true
		}
	}
	distinct := map[rune]bool{}
	var lower, upper, digit, other, wide bool
	for _, c := range r {
		distinct[c] = true
		switch {
		case 'a' <= c && c <= 'z':
			lower = true
		case 'A' <= c && c <= 'Z':
			upper = true
		case '0' <= c && c <= '9':
			digit = true
		case c < 0x80:
			other = true
		default:
			wide = true
		}
	}
	alphabet := 0
	for _, class := range []struct {
		present bool
		size    int
	}{{lower, 26}, {upper, 26}, {digit, 10}, {other, 33}, {wide, 100}} {
		if class.present {
			alphabet += class.size
		}
	}
	return len(distinct) < 8 || float64(len(r))*math.Log2(float64(alphabet)) < MinKeyBits
}
