package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// MinMemoryLimit is the smallest LATCH_MEMORY_LIMIT accepted.
const MinMemoryLimit = 32 << 20

// MinSecretLen is the shortest secret or admin key accepted: 32 characters
// carry at least 128 bits even when drawn from a small alphabet.
const MinSecretLen = 32

// validate lists every problem of a loaded configuration, one message
// each, naming the environment variable to change. Messages never hold a
// secret's value.
func (c Config) validate() []string {
	var p []string
	p = append(p, c.HTTP.problems()...)
	p = append(p, c.Ops.problems(c.HTTP.Addr)...)
	p = append(p, c.Database.problems(c.Tokens.SecretKey)...)
	p = append(p, c.Tokens.problems()...)
	p = append(p, c.Log.problems()...)
	p = append(p, c.Passwords.problems()...)
	p = append(p, c.Mail.problems()...)
	p = append(p, c.Pages.problems(c.HTTP.PublicURL)...)
	p = append(p, c.MFA.problems()...)
	return p
}

// report collects the messages of one group's checks.
type report []string

func (p *report) check(bad bool, msg string) {
	if bad {
		*p = append(*p, msg)
	}
}

func (h HTTP) problems() []string {
	var p report
	_, _, err := net.SplitHostPort(h.Addr)
	p.check(err != nil, fmt.Sprintf("LATCH_ADDR: %q is not host:port", h.Addr))
	u := h.public
	p.check(u == nil || !absoluteHTTP(u), fmt.Sprintf("LATCH_PUBLIC_URL: %q is not an absolute http(s) URL without query or fragment", h.PublicURL))
	p.check(h.ShutdownTimeout < 0, "LATCH_SHUTDOWN_TIMEOUT: must not be negative")
	p.check((h.TLSCertFile == "") != (h.TLSKeyFile == ""), "LATCH_TLS_CERT_FILE and LATCH_TLS_KEY_FILE: set both or neither")
	p.check(h.MaxBodyBytes < 1024 || h.MaxBodyBytes > 16<<20, "LATCH_MAX_BODY_BYTES: between 1024 and 16777216")
	p.check(h.RequestTimeout < time.Second || h.RequestTimeout > 5*time.Minute, "LATCH_REQUEST_TIMEOUT: between 1s and 5m")
	return p
}

// absoluteHTTP reports whether u is a base URL latch can put paths after:
// http(s), a host, no query, no fragment.
func absoluteHTTP(u *url.URL) bool {
	return (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.RawQuery == "" && u.Fragment == ""
}

func (o Ops) problems(publicAddr string) []string {
	var p report
	if o.MetricsAddr != "" {
		_, port, err := net.SplitHostPort(o.MetricsAddr)
		p.check(err != nil, fmt.Sprintf("LATCH_METRICS_ADDR: %q is not host:port or off", o.MetricsAddr))
		p.check(err == nil && o.MetricsAddr == publicAddr && port != "0", "LATCH_METRICS_ADDR: must differ from LATCH_ADDR: metrics have a listener of their own")
	}
	p.check(o.AdminKey != "" && len(o.AdminKey) < MinSecretLen, fmt.Sprintf("LATCH_ADMIN_KEY: too short: want at least %d characters", MinSecretLen))
	p.check(o.AuditRetention < 0, "LATCH_AUDIT_RETENTION: must not be negative")
	p.check(o.CleanupInterval < time.Second, "LATCH_CLEANUP_INTERVAL: at least 1s")
	return p
}

// problems checks the database and the secret key, which PostgreSQL's
// several instances must share.
func (d Database) problems(secretKey Secret) []string {
	var p report
	if d.problem != nil {
		p.check(true, "LATCH_DATABASE_URL: "+strings.TrimPrefix(d.problem.Error(), "database_url: "))
	}
	p.check(secretKey != "" && len(secretKey) < MinSecretLen, fmt.Sprintf("LATCH_SECRET_KEY: too short: want at least %d characters (e.g. `openssl rand -base64 32`)", MinSecretLen))
	p.check(secretKey == "" && d.Kind == Postgres, "LATCH_SECRET_KEY: required with PostgreSQL, so that every instance shares it")
	return p
}

func (t Tokens) problems() []string {
	var p report
	p.check(t.AccessTTL <= 0, "LATCH_ACCESS_TOKEN_TTL: must be positive")
	p.check(t.SessionMaxAge <= 0, "LATCH_SESSION_MAX_AGE: must be positive")
	p.check(t.SessionIdleTimeout <= 0, "LATCH_SESSION_IDLE_TIMEOUT: must be positive")
	p.check(t.AccessTTL > 24*time.Hour, "LATCH_ACCESS_TOKEN_TTL: at most 24h; access tokens cannot be recalled from other services, so keep them short")
	p.check(t.RefreshReuseGrace < 0 || t.RefreshReuseGrace > time.Minute, "LATCH_REFRESH_REUSE_GRACE: between 0s and 1m")
	switch t.SigningAlg {
	case "ES256", "EdDSA", "RS256":
	default:
		p.check(true, fmt.Sprintf("LATCH_SIGNING_ALG: %q: want ES256, EdDSA or RS256", t.SigningAlg))
	}
	p.check(t.KeyRotationInterval < 0, "LATCH_KEY_ROTATION_INTERVAL: must not be negative")
	p.check(t.KeyReloadInterval < time.Second || t.KeyReloadInterval > 10*time.Minute, "LATCH_KEY_RELOAD_INTERVAL: between 1s and 10m")
	for _, a := range t.Audience {
		p.check(strings.TrimSpace(a) == "", "LATCH_TOKEN_AUDIENCE: empty audience")
	}
	return p
}

func (l Log) problems() []string {
	var p report
	switch l.Format {
	case "", "text", "json":
	default:
		p.check(true, fmt.Sprintf("LATCH_LOG_FORMAT: %q: want text or json", l.Format))
	}
	return p
}

func (pw Passwords) problems() []string {
	var p report
	p.check(pw.HashConcurrency < 0, "LATCH_HASH_CONCURRENCY: must not be negative")
	p.check(pw.MemoryLimit != 0 && pw.MemoryLimit < MinMemoryLimit, "LATCH_MEMORY_LIMIT: at least 32MiB: one argon2id hash takes 19 MiB, and latch needs some memory besides")
	if pw.BreachedURL != "" {
		u, err := url.Parse(pw.BreachedURL)
		p.check(err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "", "LATCH_BREACHED_PASSWORDS_URL: want an http(s) URL such as https://api.pwnedpasswords.com/range/")
	}
	return p
}

func (m Mail) problems() []string {
	var p report
	if s := m.SMTP; s.IsSet() {
		// The URL may hold a password: never echo it.
		p.check(s.u == nil || (s.u.Scheme != "smtp" && s.u.Scheme != "smtps") || s.u.Hostname() == "", "LATCH_SMTP_URL: want smtp://[user:pass@]host[:port] or smtps://...")
	}
	for _, d := range []struct {
		env string
		d   time.Duration
	}{{"LATCH_VERIFICATION_TTL", m.VerificationTTL}, {"LATCH_RECOVERY_TTL", m.RecoveryTTL}, {"LATCH_OTP_TTL", m.OTPTTL}} {
		p.check(d.d < time.Minute || d.d > 7*24*time.Hour, d.env+": between 1m and 168h")
	}
	p.check(m.OTPTTL > time.Hour, "LATCH_OTP_TTL: at most 1h; a six-digit code must not live long")
	return p
}

func (pg Pages) problems(publicURL string) []string {
	var p report
	p = append(p, pg.browserProblems(publicURL)...)
	p.check(pg.ProductName == "" || strings.ContainsFunc(pg.ProductName, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '<' || r == '>' || r == '"' }),
		"LATCH_PRODUCT_NAME: must be a non-empty name without control characters, quotes or angle brackets")
	if pg.AppURL != "" {
		u, err := url.Parse(pg.AppURL)
		p.check(err != nil || !absoluteHTTP(u), fmt.Sprintf("LATCH_APP_URL: %q is not an absolute http(s) URL without query or fragment", pg.AppURL))
	}
	return p
}

// problems checks the relying party as browsers will: an IP address is
// never an RP id, and every origin's host must be the RP id or a
// subdomain of it.
func (m MFA) problems() []string {
	var p report
	if m.RPID == "" {
		return p // the public URL's own problem says why
	}
	if net.ParseIP(m.RPID) != nil || strings.ContainsAny(m.RPID, ":/ ") || strings.HasPrefix(m.RPID, ".") || strings.HasSuffix(m.RPID, ".") {
		p = append(p, fmt.Sprintf("LATCH_WEBAUTHN_RP_ID: %q is not a host name (browsers refuse an IP address as a relying-party id; use localhost or a domain)", m.RPID))
		return p
	}
	for _, o := range m.Origins {
		u, err := url.Parse(o)
		if err != nil {
			continue // origins() refused it when it was read
		}
		h := strings.ToLower(u.Hostname())
		p.check(u.Scheme == "http" && !localhostName(h), fmt.Sprintf("LATCH_WEBAUTHN_ORIGINS: %q is plain http on a host other than localhost, where browsers refuse passkeys; use https", o))
		p.check(h != m.RPID && !strings.HasSuffix(h, "."+m.RPID), fmt.Sprintf("LATCH_WEBAUTHN_ORIGINS: %q is not on the relying-party id %q or under it, so browsers would refuse its passkeys (set LATCH_WEBAUTHN_RP_ID to a parent domain of both)", o, m.RPID))
	}
	return p
}
