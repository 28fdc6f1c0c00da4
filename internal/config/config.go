package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"time"
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

// Config is every setting of a latch server, grouped by the part of latch
// that reads it. Load fills it from defaults, a YAML file, LATCH_*
// environment variables and flags, in that order; the values it derives
// from others (the audience, the sender, how mail leaves, the database
// kind, the parsed URLs) are decided there, once.
type Config struct {
	HTTP      HTTP
	Database  Database
	Tokens    Tokens
	Passwords Passwords
	Limits    Limits
	Mail      Mail
	Pages     Pages
	Social    Social
	MFA       MFA
	Log       Log
	Ops       Ops
}

// HTTP is the public listener and how requests reach latch.
type HTTP struct {
	Addr            string
	PublicURL       string // without a trailing slash: the issuer and the base of latch's links
	TLSCertFile     string
	TLSKeyFile      string
	MaxBodyBytes    int64
	RequestTimeout  time.Duration
	ShutdownTimeout time.Duration
	TrustedProxies  []netip.Prefix
	ClientIPHeader  string // HeaderXForwardedFor or HeaderForwarded: the one header read from trusted proxies
	CORSOrigins     []string

	public *url.URL // PublicURL parsed by Load; nil when it does not parse (validate says so)
}

// PublicURLLoopback reports whether the public URL names this machine
// only: the host localhost, or a loopback address (127.0.0.0/8, ::1).
// Plain HTTP and development conveniences are safe there and nowhere else.
func (h HTTP) PublicURLLoopback() bool {
	return h.public != nil && loopbackHost(h.public.Hostname())
}

// PublicURLRedacted is the public URL with the password of its userinfo,
// if any, masked, for logging.
func (h HTTP) PublicURLRedacted() string {
	if h.public == nil {
		return h.PublicURL
	}
	return h.public.Redacted()
}

// Database kinds.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Database is where latch keeps its state. Load splits URL into Kind and
// DSN.
type Database struct {
	URL  string // sqlite:PATH or postgres://...
	Kind string // SQLite or Postgres; "" when URL is neither (validate says so)
	DSN  string // what the driver takes: a file path for SQLite, the URL itself for PostgreSQL

	problem error // why URL is neither kind
}

// SecretFile is where a generated secret key is kept for a SQLite
// database: beside the database file.
func (d Database) SecretFile() string {
	if d.DSN == "" {
		return "latch.secret"
	}
	return filepath.Join(filepath.Dir(d.DSN), "latch.secret")
}

// parseDatabase splits a database URL into its kind and what the driver
// takes.
func parseDatabase(raw string) (Database, error) {
	d := Database{URL: raw}
	switch {
	case strings.HasPrefix(raw, "sqlite:"):
		p := strings.TrimPrefix(raw, "sqlite:")
		p = strings.TrimPrefix(p, "//") // also accept sqlite://path
		if p == "" {
			return d, errors.New("database_url: sqlite: needs a file path, e.g. sqlite:latch.db")
		}
		d.Kind, d.DSN = SQLite, p
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		d.Kind, d.DSN = Postgres, raw
	default:
		return d, errors.New("database_url: want sqlite:PATH or postgres://USER@HOST/DB")
	}
	return d, nil
}

// Tokens are the keys, the access tokens they sign and the sessions that
// refresh tokens keep alive.
type Tokens struct {
	SecretKey           Secret // encrypts signing keys at rest; "": the latch.secret file beside SQLite
	SigningAlg          string
	AccessTTL           time.Duration
	Audience            []string // the public URL unless configured
	SessionMaxAge       time.Duration
	SessionIdleTimeout  time.Duration
	RefreshReuseGrace   time.Duration
	KeyRotationInterval time.Duration // 0: off
	KeyReloadInterval   time.Duration
}

// Passwords is how passwords are hashed and checked.
type Passwords struct {
	HashConcurrency    int   // 0: the number of CPUs
	MemoryLimit        int64 // bytes; 0: derived from the hash slots, or GOMEMLIMIT's; math.MaxInt64: off
	BreachedURL        string
	BreachedFailClosed bool
}

// Limits turn abuse away before it costs a hash.
type Limits struct {
	RateLimit    bool    // login throttling and the per-address bucket
	AddressRate  float64 // requests per second per client address on credential endpoints
	AddressBurst int
}

// Delivery is how messages leave latch.
type Delivery int

// The ways messages leave latch, decided at load from LATCH_SMTP_URL and
// the public URL.
const (
	// DeliverSMTP sends through the configured mail server.
	DeliverSMTP Delivery = iota + 1
	// DeliverLog writes messages, links and codes included, to the log:
	// no SMTP on a developer's machine (a loopback public URL).
	DeliverLog
	// DeliverRedactedLog writes messages without their links and codes:
	// no SMTP on someone else's server, where a link in a log is an
	// account takeover for whoever reads it.
	DeliverRedactedLog
)

// Mail is the email flows: how messages leave, what they say and how long
// their links live.
type Mail struct {
	SMTP                SMTPURL // unset: messages go to the log
	Delivery            Delivery
	From                string // PRODUCT <no-reply@HOST of the public URL> unless configured
	RequireVerification bool   // signup answers 202; sign-in needs a verified email
	Passwordless        bool   // sign-in by an emailed code
	VerificationTTL     time.Duration
	RecoveryTTL         time.Duration
	OTPTTL              time.Duration

	verification autoSwitch // signup_require_verification as configured; auto is decided by Load
}

// SMTPURL is the mail server's URL, parsed by Load. It holds the server's
// password, so it prints redacted.
type SMTPURL struct {
	raw string
	u   *url.URL // nil when raw does not parse (validate says so)
}

// IsSet reports whether a mail server is configured.
func (s SMTPURL) IsSet() bool { return s.raw != "" }

// Reveal is the URL in full, password included: for the mailer only.
func (s SMTPURL) Reveal() string { return s.raw }

// String is the URL with its password masked.
func (s SMTPURL) String() string {
	if s.u == nil {
		return Secret(s.raw).String()
	}
	return s.u.Redacted()
}

// LogValue masks the password in slog output.
func (s SMTPURL) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Pages is what people see: the product's name and whose pages the links
// in messages open.
type Pages struct {
	ProductName string
	AppURL      string // "": links open latch's own pages
	// UI serves the hosted sign-in pages and /v1/authorize (LATCH_UI);
	// off, only the pages that email links open stay.
	UI bool
	// Signup allows self-service sign-up (LATCH_SIGNUP).
	Signup bool
	// RedirectURLs are where /v1/authorize may send a browser back to,
	// compared as exact strings.
	RedirectURLs []string
	LogoURL      string
	BrandColor   string // #rrggbb; "" for latch's own
}

// MFA is how second factors and passkeys work.
type MFA struct {
	// RPID is the WebAuthn relying-party id: the public URL's host
	// unless LATCH_WEBAUTHN_RP_ID says otherwise (derive decides); ""
	// when browsers would not run WebAuthn there (an IP address, or
	// plain http beyond localhost): no passkeys.
	RPID string
	// Origins are the origins allowed to run WebAuthn ceremonies: the
	// public URL's unless LATCH_WEBAUTHN_ORIGINS says otherwise.
	Origins []string
}

// Log is the process log.
type Log struct {
	Format string // "text", "json" or "" (text on a terminal, else json)
	Level  slog.Level
}

// Ops is what the operator runs latch with: metrics, the admin key and
// housekeeping.
type Ops struct {
	MetricsAddr     string // "": no metrics listener (LATCH_METRICS_ADDR=off)
	AdminKey        Secret // "": admin endpoints off
	AuditRetention  time.Duration
	CleanupInterval time.Duration
}

// The headers LATCH_CLIENT_IP_HEADER may name.
const (
	HeaderXForwardedFor = "X-Forwarded-For"
	HeaderForwarded     = "Forwarded"
)

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
func Load(src Sources) (Config, error) { return load(src, Settings()) }

func load(src Sources, settings []Setting) (Config, error) {
	var c Config
	byName := make(map[string]Setting, len(settings))
	for _, s := range settings {
		byName[s.Name] = s
		if err := s.set(&c, s.Default); err != nil {
			panic(fmt.Sprintf("config: bad default for %s: %v", s.Name, err)) // a programming error
		}
	}
	var problems []string
	if src.File != "" {
		problems = append(problems, applyFile(&c, src.File, byName)...)
	}
	if src.Getenv != nil {
		problems = append(problems, applyEnv(&c, src.Getenv, settings)...)
	}
	problems = append(problems, applyFlags(&c, src.Flags, byName)...)
	c.derive()
	problems = append(problems, c.validate()...)
	problems = append(problems, c.Social.connectors(src.Getenv, c.HTTP.PublicURL)...)
	if len(problems) > 0 {
		return c, &Error{Problems: problems}
	}
	return c, nil
}

func applyEnv(c *Config, getenv func(string) string, settings []Setting) []string {
	var problems []string
	for _, s := range settings {
		if v := getenv(s.Env()); v != "" {
			if err := s.set(c, v); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", s.Env(), err))
			}
		}
	}
	return problems
}

func applyFlags(c *Config, flags map[string]string, byName map[string]Setting) []string {
	var problems []string
	for _, k := range sortedKeys(flags) {
		s, ok := byName[k]
		if !ok {
			problems = append(problems, fmt.Sprintf("--%s: unknown setting", k))
			continue
		}
		if err := s.set(c, flags[k]); err != nil {
			problems = append(problems, fmt.Sprintf("--%s: %v", s.Flag(), err))
		}
	}
	return problems
}

// derive decides, once every source is read, the values that follow from
// others, and parses what is parsed once.
func (c *Config) derive() {
	c.HTTP.public = nil
	if u, err := url.Parse(c.HTTP.PublicURL); err == nil {
		c.HTTP.public = u
	}
	if len(c.Tokens.Audience) == 0 {
		c.Tokens.Audience = []string{c.HTTP.PublicURL}
	}
	if c.MFA.RPID == "" && c.HTTP.public != nil && passkeyHost(c.HTTP.public) {
		c.MFA.RPID = strings.ToLower(c.HTTP.public.Hostname())
	}
	if len(c.MFA.Origins) == 0 && c.HTTP.public != nil {
		c.MFA.Origins = []string{strings.ToLower(c.HTTP.public.Scheme + "://" + c.HTTP.public.Host)}
	}
	db, err := parseDatabase(c.Database.URL)
	db.problem = err
	c.Database = db

	m := &c.Mail
	m.SMTP.u = nil
	if u, err := url.Parse(m.SMTP.raw); err == nil {
		m.SMTP.u = u
	}
	switch {
	case m.SMTP.IsSet():
		m.Delivery = DeliverSMTP
	case c.HTTP.PublicURLLoopback():
		m.Delivery = DeliverLog
	default:
		m.Delivery = DeliverRedactedLog
	}
	m.RequireVerification = m.verification.on
	if m.verification.auto {
		m.RequireVerification = m.SMTP.IsSet()
	}
	if m.From == "" {
		host := "localhost"
		if c.HTTP.public != nil && c.HTTP.public.Hostname() != "" {
			host = c.HTTP.public.Hostname()
		}
		m.From = fmt.Sprintf("%s <no-reply@%s>", c.Pages.ProductName, host)
	}
}

// passkeyHost reports whether browsers run WebAuthn for pages at u: a
// host name (never an IP address) over https, or localhost over http.
// Elsewhere passkeys stay off unless LATCH_WEBAUTHN_RP_ID says otherwise.
func passkeyHost(u *url.URL) bool {
	h := strings.ToLower(u.Hostname())
	if h == "" || net.ParseIP(h) != nil {
		return false
	}
	return u.Scheme == "https" || localhostName(h)
}

// localhostName reports whether h is localhost or under it, which
// browsers treat as a secure context even over http.
func localhostName(h string) bool { return h == "localhost" || strings.HasSuffix(h, ".localhost") }

// Error lists every problem found in a configuration.
type Error struct{ Problems []string }

func (e *Error) Error() string {
	return "invalid configuration:\n  " + strings.Join(e.Problems, "\n  ")
}

func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}
