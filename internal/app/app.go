package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/latchauth/latch/internal/audit"
	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/config"
	"github.com/latchauth/latch/internal/connector"
	"github.com/latchauth/latch/internal/connector/providers"
	"github.com/latchauth/latch/internal/mail"
	"github.com/latchauth/latch/internal/mfa/passkey"
	"github.com/latchauth/latch/internal/outbox"
	"github.com/latchauth/latch/internal/password"
	"github.com/latchauth/latch/internal/ratelimit"
	"github.com/latchauth/latch/internal/server"
	"github.com/latchauth/latch/internal/store"
	"github.com/latchauth/latch/internal/token"
)

// Latch is a wired latch: the parts serve, the admin commands and the
// HTTP tests share. Close releases what Build opened.
type Latch struct {
	Config   config.Config
	Log      *slog.Logger
	Now      func() time.Time
	DB       store.Store
	Tokens   *token.Manager
	Auth     *auth.Service
	Limit    *ratelimit.Throttler // login throttling; wired into Auth only with LATCH_RATE_LIMIT=on
	Hasher   *password.Hasher
	Audit    *audit.Recorder
	Mail     *outbox.Sender // not running: serve runs it, tests call SendAll
	Registry *prometheus.Registry

	closeDB       bool   // Build opened DB
	stopProviders func() // ends the providers' background discovery
}

// Option changes a part Build would otherwise make from the
// configuration; tests use them to bring their own.
type Option func(*options)

type options struct {
	db         store.Store
	migrate    bool
	now        func() time.Time
	secret     []byte
	wrapHasher func(auth.Hasher) auth.Hasher
	smtp       mail.SMTPOptions
	providers  *http.Client
}

// WithStore uses db instead of opening the configured database; the
// caller keeps closing it.
func WithStore(db store.Store) Option { return func(o *options) { o.db = db } }

// WithMigrations applies pending migrations before the schema is checked;
// without it Build refuses a database with migrations pending.
func WithMigrations() Option { return func(o *options) { o.migrate = true } }

// WithClock makes every part read time from now instead of time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithSecret uses key instead of LATCH_SECRET_KEY or the latch.secret
// file.
func WithSecret(key []byte) Option { return func(o *options) { o.secret = key } }

// WithHasherWrapper wraps the hasher the domain service uses (the
// hashing stays the given hasher's).
func WithHasherWrapper(wrap func(auth.Hasher) auth.Hasher) Option {
	return func(o *options) { o.wrapHasher = wrap }
}

// WithProviderClient makes every request to the social providers with c
// (tests lead it to loopback servers); the default has a 10 s timeout.
func WithProviderClient(c *http.Client) Option { return func(o *options) { o.providers = c } }

// WithSMTPOptions tunes the SMTP mailer when LATCH_SMTP_URL is set.
func WithSMTPOptions(s mail.SMTPOptions) Option { return func(o *options) { o.smtp = s } }

// Build wires latch from cfg: it opens (and, if asked, migrates) the
// database, loads or makes the signing keys, and builds the domain
// service and the outbox sender around hasher, which the caller sizes
// (serve from the machine's CPUs and memory). It starts nothing.
func Build(ctx context.Context, cfg config.Config, log *slog.Logger, hasher *password.Hasher, opts ...Option) (*Latch, error) {
	o := options{
		now: time.Now,
		// One quick retry inside a delivery for a blip; the outbox
		// retries anything longer (10 s, doubling, up to 30 min).
		smtp: mail.SMTPOptions{Timeout: 10 * time.Second, Retries: 1},
	}
	for _, opt := range opts {
		opt(&o)
	}
	secret := o.secret
	if secret == nil {
		var err error
		if secret, err = SecretKey(cfg, log); err != nil {
			return nil, err
		}
	}
	sealer, err := token.NewSealer(secret)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	a := &Latch{Config: cfg, Log: log, Now: o.now, DB: o.db, Hasher: hasher, Registry: prometheus.NewRegistry()}
	if a.DB == nil {
		if a.DB, err = OpenStore(ctx, cfg); err != nil {
			return nil, fmt.Errorf("open database: %w", err)
		}
		a.closeDB = true
	}
	if err := a.build(ctx, sealer, o); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// build wires the parts on an open database.
func (a *Latch) build(ctx context.Context, sealer *token.Sealer, o options) error {
	if err := prepareSchema(ctx, a.DB, o.migrate); err != nil {
		return err
	}
	if err := a.loadKeys(ctx, sealer); err != nil {
		return err
	}
	a.Audit = audit.New(a.DB, a.Log, a.Now, a.Registry)
	a.Limit = ratelimit.New(a.DB, ratelimit.DefaultPolicy(), a.Now)
	var h auth.Hasher = a.Hasher
	if o.wrapHasher != nil {
		h = o.wrapHasher(h)
	}
	providers, err := a.openProviders(o)
	if err != nil {
		return err
	}
	if err := a.newAuth(h, sealer, providers); err != nil {
		return err
	}
	mailer, err := newMailer(a.Config, a.Log, o.smtp)
	if err != nil {
		return err
	}
	a.Mail = outbox.New(a.DB, mailer, a.Auth, a.Audit, a.Now, a.Log)
	return nil
}

// loadKeys makes the token manager and loads the signing keys, making
// the first ones on a fresh database.
func (a *Latch) loadKeys(ctx context.Context, sealer *token.Sealer) error {
	t := a.Config.Tokens
	tokens, err := token.NewManager(a.DB, sealer, token.Options{
		Issuer:    a.Config.HTTP.PublicURL,
		Audience:  t.Audience,
		Algorithm: t.SigningAlg,
		AccessTTL: t.AccessTTL,
		ClientID:  "latch",
		Now:       a.Now,

		ReloadInterval:   t.KeyReloadInterval,
		RotationInterval: t.KeyRotationInterval,
	}, a.Log)
	if err != nil {
		return err
	}
	if err := tokens.Init(ctx); err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	a.Tokens = tokens
	return nil
}

// newAuth builds the domain service with hasher as its hasher.
func (a *Latch) newAuth(hasher auth.Hasher, sealer *token.Sealer, providers []auth.Provider) error {
	cfg := a.Config
	deps := auth.Deps{Hasher: hasher, Tokens: a.Tokens, MAC: sealer, Audit: a.Audit, Now: a.Now, Log: a.Log, Providers: providers}
	deps.Storage(a.DB)
	if cfg.MFA.RPID != "" {
		rp, err := passkey.New(passkey.Config{RPID: cfg.MFA.RPID, RPName: cfg.Pages.ProductName, Origins: cfg.MFA.Origins})
		if err != nil {
			return fmt.Errorf("passkeys: %w", err)
		}
		deps.Passkeys = rp
	}
	if cfg.Limits.RateLimit {
		deps.Throttler, deps.Quota = a.Limit, a.Limit
	}
	var err error
	if deps.Renderer, err = mail.NewTemplates(cfg.Pages.ProductName, cfg.Pages.BrandColor); err != nil {
		return fmt.Errorf("mail templates: %w", err)
	}
	// The service wakes the sender when it enqueues; the sender asks the
	// service what each message says.
	deps.Wake = func() { a.Mail.Wake() }
	policy := password.DefaultPolicy()
	if cfg.Passwords.BreachedURL != "" {
		checker, err := password.NewRangeChecker(password.RangeOptions{URL: cfg.Passwords.BreachedURL, FailClosed: cfg.Passwords.BreachedFailClosed, Logger: a.Log})
		if err != nil {
			return fmt.Errorf("breached passwords: %w", err)
		}
		policy.Breached = checker
	}
	a.Auth = auth.NewService(deps, auth.Options{
		SessionMaxAge:       cfg.Tokens.SessionMaxAge,
		SessionIdleTimeout:  cfg.Tokens.SessionIdleTimeout,
		RefreshReuseGrace:   cfg.Tokens.RefreshReuseGrace,
		RequireVerification: cfg.Mail.RequireVerification,
		SignupOff:           !cfg.Pages.Signup,
		AdminKey:            string(cfg.Ops.AdminKey),
		Policy:              policy,
		Mail:                mailOptions(cfg),
		Issuer:              cfg.Pages.ProductName,
	})
	return nil
}

// mailOptions are the rules of the email flows. Links point at the
// application's pages when LATCH_APP_URL is set, else at latch's own.
func mailOptions(cfg config.Config) auth.MailOptions {
	m := cfg.Mail
	o := auth.MailOptions{
		LinkBase:     cfg.HTTP.PublicURL,
		VerifyTTL:    m.VerificationTTL,
		RecoverTTL:   m.RecoveryTTL,
		EmailTTL:     m.VerificationTTL,
		OTPTTL:       m.OTPTTL,
		Passwordless: m.Passwordless,
	}
	if cfg.Pages.AppURL != "" {
		o.LinkBase, o.AppLinks = cfg.Pages.AppURL, true
	}
	return o
}

// newMailer is what delivers the outbox's messages, as the configuration
// decided (config.Mail.Delivery).
func newMailer(cfg config.Config, log *slog.Logger, o mail.SMTPOptions) (outbox.Mailer, error) {
	switch cfg.Mail.Delivery {
	case config.DeliverSMTP:
		smtp, err := mail.NewSMTP(cfg.Mail.SMTP.Reveal(), cfg.Mail.From, o)
		if err != nil {
			return nil, fmt.Errorf("LATCH_SMTP_URL: %w", err)
		}
		return smtp, nil
	case config.DeliverLog:
		return mail.NewLog(log), nil
	default:
		return mail.NewRedactingLog(log), nil
	}
}

// NewServer builds the HTTP handler on the wired parts; version is what
// the metrics and logs report.
func (a *Latch) NewServer(version string) *server.Server {
	deps := server.Deps{Config: a.Config, Auth: a.Auth, Keys: a.Tokens, DB: a.DB, Log: a.Log, Registry: a.Registry, Version: version}
	if a.Config.Limits.RateLimit {
		deps.Buckets = ratelimit.NewBuckets(a.Config.Limits.AddressRate, a.Config.Limits.AddressBurst, a.Now)
	}
	return server.New(deps)
}

// Close closes the database if Build opened it.
func (a *Latch) Close() error {
	if a.stopProviders != nil {
		a.stopProviders()
	}
	if a.closeDB {
		return a.DB.Close()
	}
	return nil
}

// openProviders builds a connector for each configured social provider.
// None waits for its provider: an OpenID Provider that cannot be reached
// now is discovered in the background until it can (a warning each
// time), and its button answers "unavailable" meanwhile.
func (a *Latch) openProviders(o options) ([]auth.Provider, error) {
	ctx, cancel := context.WithCancel(context.Background())
	a.stopProviders = cancel
	client := o.providers
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	var out []auth.Provider
	for _, c := range a.Config.Social.Connectors {
		// The provider's tokens carry the provider's times: they are
		// judged by the wall clock, not by a test's (WithClock).
		conn, err := providers.Open(ctx, c, connector.Options{Client: client, Logger: a.Log, Now: time.Now})
		if err != nil {
			return nil, fmt.Errorf("providers: %s: %w", c.ID, err)
		}
		out = append(out, auth.Provider{ID: c.ID, Name: a.Config.Social.Name(c.ID), TrustEmail: c.TrustEmail, AllowSignup: c.AllowSignup, Connector: conn})
	}
	return out, nil
}
