package config

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Setting describes one configuration value: its YAML key, environment
// variable and flag are derived from Name, so the four sources cannot
// drift apart.
type Setting struct {
	Name    string // YAML key and flag name with '_' → '-'; env is LATCH_ + upper-case
	Default string
	Usage   string
	set     func(c *Config, v string) error
	// node, for a structured setting (listOf), reads its YAML node from
	// the file; other settings read the file's scalars as text with set.
	node func(c *Config, n *yaml.Node) error
}

// Env is the setting's environment variable.
func (s Setting) Env() string { return "LATCH_" + strings.ToUpper(s.Name) }

// Flag is the setting's command-line flag name (without dashes).
func (s Setting) Flag() string { return strings.ReplaceAll(s.Name, "_", "-") }

// Settings lists every setting, one declaration each: its name, default,
// usage, the field it fills and how its text is read.
func Settings() []Setting {
	return []Setting{
		bind("addr", "127.0.0.1:8080", "listen address (host:port)", func(c *Config) *string { return &c.HTTP.Addr }, text),
		bind("metrics_addr", "127.0.0.1:9090", "listen address (host:port) of the Prometheus metrics, apart from the public one; 127.0.0.1:0 picks a free port (the server.start log event names it); off: no metrics", func(c *Config) *string { return &c.Ops.MetricsAddr }, addrOrOff),
		bind("public_url", "http://localhost:8080", "public URL of this server: the token issuer and link base", func(c *Config) *string { return &c.HTTP.PublicURL }, baseURL),
		bind("database_url", "sqlite:latch.db", "sqlite:PATH or postgres://...", func(c *Config) *string { return &c.Database.URL }, text),
		bind("secret_key", "", "secret (≥32 characters) that encrypts signing keys at rest; generated into latch.secret beside the SQLite file when unset", func(c *Config) *Secret { return &c.Tokens.SecretKey }, secret),
		bind("admin_key", "", "bearer secret (≥32 characters) for admin endpoints such as introspection; unset: admin endpoints off", func(c *Config) *Secret { return &c.Ops.AdminKey }, secret),
		bind("access_token_ttl", "15m", "access-token lifetime", func(c *Config) *time.Duration { return &c.Tokens.AccessTTL }, duration),
		bind("token_audience", "", "aud of access tokens, comma-separated; default: the public URL", func(c *Config) *[]string { return &c.Tokens.Audience }, list),
		bind("session_max_age", "720h", "absolute session lifetime", func(c *Config) *time.Duration { return &c.Tokens.SessionMaxAge }, duration),
		bind("session_idle_timeout", "168h", "a session unused this long ends", func(c *Config) *time.Duration { return &c.Tokens.SessionIdleTimeout }, duration),
		bind("refresh_reuse_grace", "10s", "window in which the previous refresh token still gets its successor back", func(c *Config) *time.Duration { return &c.Tokens.RefreshReuseGrace }, duration),
		bind("signing_alg", "ES256", "access-token signing algorithm: ES256, EdDSA or RS256", func(c *Config) *string { return &c.Tokens.SigningAlg }, text),
		bind("rate_limit", "on", "login throttling: on or off (off only for benchmarks)", func(c *Config) *bool { return &c.Limits.RateLimit }, onOff),
		bind("tls_cert_file", "", "serve HTTPS with this certificate (PEM)", func(c *Config) *string { return &c.HTTP.TLSCertFile }, text),
		bind("tls_key_file", "", "private key (PEM) for tls_cert_file", func(c *Config) *string { return &c.HTTP.TLSKeyFile }, text),
		bind("log_format", "", "text or json; default: text on a terminal, else json", func(c *Config) *string { return &c.Log.Format }, text),
		bind("log_level", "info", "debug, info, warn or error", func(c *Config) *slog.Level { return &c.Log.Level }, logLevel),
		bind("signup_require_verification", "auto", "on: signup answers 202 and sign-in needs a verified email; auto: on exactly when smtp_url is set", func(c *Config) *autoSwitch { return &c.Mail.verification }, onOffAuto),
		bind("max_body_bytes", "65536", "largest request body accepted", func(c *Config) *int64 { return &c.HTTP.MaxBodyBytes }, wholeInt64),
		bind("hash_concurrency", "0", "password hashes computed at once; 0: the number of CPUs", func(c *Config) *int { return &c.Passwords.HashConcurrency }, wholeInt),
		bind("memory_limit", "auto", "soft memory limit the Go runtime keeps to, e.g. 96MiB (B, KiB, MiB, GiB or TiB, as GOMEMLIMIT); auto: GOMEMLIMIT if set, else the hash slots' argon2id memory and half as much again; off: none", func(c *Config) *int64 { return &c.Passwords.MemoryLimit }, parseMemoryLimit),
		bind("shutdown_timeout", "20s", "how long in-flight requests may run on after SIGTERM", func(c *Config) *time.Duration { return &c.HTTP.ShutdownTimeout }, duration),
		bind("trusted_proxies", "", "comma-separated addresses or CIDR ranges of reverse proxies whose X-Forwarded-For / Forwarded headers name the client", func(c *Config) *[]netip.Prefix { return &c.HTTP.TrustedProxies }, proxies),
		bind("client_ip_header", HeaderXForwardedFor, "the one header trusted proxies name the client in: X-Forwarded-For or Forwarded (RFC 7239); the other is never read", func(c *Config) *string { return &c.HTTP.ClientIPHeader }, clientIPHeader),
		bind("cors_origins", "", "comma-separated origins (scheme://host[:port]) allowed to call latch from a browser", func(c *Config) *[]string { return &c.HTTP.CORSOrigins }, origins),
		bind("breached_passwords_url", "", "k-anonymity range API (e.g. https://api.pwnedpasswords.com/range/) to refuse breached passwords; unset: off", func(c *Config) *string { return &c.Passwords.BreachedURL }, text),
		bind("breached_passwords_fail_closed", "off", "on: refuse new passwords while the breach API cannot be reached; off: let them through", func(c *Config) *bool { return &c.Passwords.BreachedFailClosed }, onOff),
		bind("key_rotation_interval", "0s", "rotate signing keys automatically this often (e.g. 720h); 0s: only by 'latch keys rotate'", func(c *Config) *time.Duration { return &c.Tokens.KeyRotationInterval }, duration),
		bind("audit_retention", "2160h", "audit events older than this are deleted (2160h = 90 days); 0s keeps them forever", func(c *Config) *time.Duration { return &c.Ops.AuditRetention }, duration),
		bind("cleanup_interval", "10m", "how often ended sessions, old throttle counters and expired audit events are removed", func(c *Config) *time.Duration { return &c.Ops.CleanupInterval }, duration),
		bind("request_timeout", "10s", "a request still waiting on the database or the hasher after this long gets 503", func(c *Config) *time.Duration { return &c.HTTP.RequestTimeout }, duration),
		bind("key_reload_interval", "30s", "how often each instance reloads signing keys, picking up rotations made elsewhere", func(c *Config) *time.Duration { return &c.Tokens.KeyReloadInterval }, duration),
		bind("address_rate", "20", "requests per second each client address may make to the credential endpoints, before login throttling", func(c *Config) *float64 { return &c.Limits.AddressRate }, positiveRate),
		bind("smtp_url", "", "mail server, smtp://user:pass@host:587 (STARTTLS required; ?tls=opportunistic or ?tls=none to relax) or smtps://...:465; unset: messages and their links are written to the log", func(c *Config) *SMTPURL { return &c.Mail.SMTP }, smtpURL),
		bind("mail_from", "", "sender of latch's messages, e.g. \"Example <no-reply@example.com>\"; default: PRODUCT_NAME <no-reply@ the public URL's host>", func(c *Config) *string { return &c.Mail.From }, text),
		bind("product_name", "latch", "the name messages and pages show to users", func(c *Config) *string { return &c.Pages.ProductName }, trimmed),
		bind("app_url", "", "base URL of your application's pages that receive links (APP_URL/verify, /recover, /email-change, /otp ?token=...); unset: links open latch's own pages under the public URL", func(c *Config) *string { return &c.Pages.AppURL }, baseURL),
		bind("ui", "on", "the hosted sign-in pages and /v1/authorize: on or off (API only; the pages that email links open stay unless LATCH_APP_URL sends the links elsewhere)", func(c *Config) *bool { return &c.Pages.UI }, onOff),
		bind("signup", "on", "self-service sign-up: on, or off (403 signup_disabled; people join by `latch user invite`)", func(c *Config) *bool { return &c.Pages.Signup }, onOff),
		bind("redirect_urls", "", "comma-separated redirect URIs /v1/authorize may send the browser back to, compared exactly; an http://127.0.0.1/... or http://[::1]/... entry without a port matches any port", func(c *Config) *[]string { return &c.Pages.RedirectURLs }, list),
		bind("logo_url", "", "URL of the logo the pages show (https, or a path on latch); unset: a monogram of the product name", func(c *Config) *string { return &c.Pages.LogoURL }, trimmed),
		bind("brand_color", "", "colour of the primary actions on the pages and in messages, #rrggbb", func(c *Config) *string { return &c.Pages.BrandColor }, lowerTrimmed),
		bind("passwordless", "off", "on: sign-in by a code (and, with app_url, a link) sent by email: POST /v1/otp and grant_type=otp", func(c *Config) *bool { return &c.Mail.Passwordless }, onOff),
		bind("verification_ttl", "24h", "how long an email verification or email change link stays valid", func(c *Config) *time.Duration { return &c.Mail.VerificationTTL }, duration),
		bind("recovery_ttl", "1h", "how long a password reset link stays valid", func(c *Config) *time.Duration { return &c.Mail.RecoveryTTL }, duration),
		bind("otp_ttl", "10m", "how long a sign-in code or link stays valid", func(c *Config) *time.Duration { return &c.Mail.OTPTTL }, duration),
		listOf("providers", "social sign-in providers: a list of {id, type, client_id, client_secret, …} (see the README)", func(c *Config) *[]Provider { return &c.Social.Providers }),
		bind("webauthn_rp_id", "", "relying-party id of passkeys: a host name that is the public URL's host or a parent domain of it; passkeys are bound to it for ever, so choose it once; default: the public URL's host", func(c *Config) *string { return &c.MFA.RPID }, lowerTrimmed),
		bind("webauthn_origins", "", "comma-separated origins (scheme://host[:port]) whose pages may use passkeys, each on the relying-party id or under it; default: the public URL's origin", func(c *Config) *[]string { return &c.MFA.Origins }, origins),
		bind("address_burst", "40", "burst allowed above address_rate", func(c *Config) *int { return &c.Limits.AddressBurst }, burst),
	}
}

// bind declares a setting that parse reads from text into the field
// field points at.
func bind[T any](name, def, usage string, field func(*Config) *T, parse func(string) (T, error)) Setting {
	return Setting{Name: name, Default: def, Usage: usage, set: func(c *Config, v string) error {
		x, err := parse(v)
		if err != nil {
			return err
		}
		*field(c) = x
		return nil
	}}
}

// The parsers settings are declared with. Their errors never repeat the
// value: it may be a secret.

func text(v string) (string, error)    { return v, nil }
func trimmed(v string) (string, error) { return strings.TrimSpace(v), nil }

func lowerTrimmed(v string) (string, error) { return strings.ToLower(strings.TrimSpace(v)), nil }
func secret(v string) (Secret, error)       { return Secret(v), nil }
func list(v string) ([]string, error)       { return splitList(v), nil }

// baseURL drops trailing slashes, so that paths are appended with one.
func baseURL(v string) (string, error) { return strings.TrimRight(v, "/"), nil }

// smtpURL keeps the text; Load parses it once every source is read.
func smtpURL(v string) (SMTPURL, error) { return SMTPURL{raw: v}, nil }

func addrOrOff(v string) (string, error) {
	if strings.EqualFold(v, "off") {
		return "", nil
	}
	return v, nil
}

func duration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, errors.New("not a duration (e.g. 15m, 720h, 10s)")
	}
	return d, nil
}

func onOff(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "on", "true", "1", "yes":
		return true, nil
	case "off", "false", "0", "no":
		return false, nil
	}
	return false, errors.New("want on or off")
}

// autoSwitch is on, off, or auto: decided by Load from other settings.
type autoSwitch struct{ auto, on bool }

func onOffAuto(v string) (autoSwitch, error) {
	if strings.EqualFold(v, "auto") {
		return autoSwitch{auto: true}, nil
	}
	on, err := onOff(v)
	return autoSwitch{on: on}, err
}

func logLevel(v string) (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(v))
	return l, err
}

func wholeInt64(v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, errors.New("not a whole number")
	}
	return n, nil
}

func wholeInt(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, errors.New("not a whole number")
	}
	return n, nil
}

func positiveRate(v string) (float64, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 {
		return 0, errors.New("want a positive number")
	}
	return f, nil
}

func burst(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, errors.New("want a whole number of at least 1")
	}
	return n, nil
}

// proxies reads addresses and CIDR ranges; an address is a range of one.
func proxies(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, p := range splitList(v) {
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			addr, aerr := netip.ParseAddr(p)
			if aerr != nil {
				return nil, fmt.Errorf("%q is not an address or CIDR range", p)
			}
			prefix = netip.PrefixFrom(addr, addr.BitLen())
		}
		out = append(out, prefix.Masked())
	}
	return out, nil
}

func clientIPHeader(v string) (string, error) {
	for _, h := range []string{HeaderXForwardedFor, HeaderForwarded} {
		if strings.EqualFold(v, h) {
			return h, nil
		}
	}
	return "", fmt.Errorf("%q: want X-Forwarded-For or Forwarded", v)
}

// origins reads exact browser origins, lower-cased as browsers send them.
func origins(v string) ([]string, error) {
	var out []string
	for _, o := range splitList(v) {
		u, err := url.Parse(o)
		if o == "*" || o == "null" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
			return nil, fmt.Errorf("%q is not an origin like https://app.example.com (no *, no null, no path)", o)
		}
		out = append(out, strings.ToLower(o))
	}
	return out, nil
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

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
