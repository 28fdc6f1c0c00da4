package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/latchauth/latch/internal/audit"
	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/config"
	"github.com/latchauth/latch/internal/mail"
	"github.com/latchauth/latch/internal/outbox"
	"github.com/latchauth/latch/internal/password"
	"github.com/latchauth/latch/internal/ratelimit"
	"github.com/latchauth/latch/internal/store"
	"github.com/latchauth/latch/internal/store/postgres"
	"github.com/latchauth/latch/internal/store/sqlite"
	"github.com/latchauth/latch/internal/token"
)

// newLogger builds the slog logger the configuration asks for.
func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.Log.Level}
	format := cfg.Log.Format
	if format == "" {
		format = "json"
		if isTerminal(w) {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// openStore opens the configured database. It does not migrate.
func openStore(ctx context.Context, cfg config.Config) (store.Store, error) {
	switch cfg.Database.Kind {
	case config.SQLite:
		return sqlite.Open(ctx, cfg.Database.DSN)
	default:
		return postgres.Open(ctx, cfg.Database.DSN)
	}
}

// checkSchema refuses a database that is newer than the binary or, when
// latch is told not to migrate, one with pending migrations.
func checkSchema(ctx context.Context, db store.Store) error {
	st, err := db.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	switch {
	case st.Current > st.Latest:
		return fmt.Errorf("%w: database at version %d, this binary knows up to %d; upgrade latch", store.ErrDatabaseTooNew, st.Current, st.Latest)
	case st.Current < st.Latest:
		return fmt.Errorf("%w: database at version %d, this binary needs %d; run 'latch migrate up'", store.ErrMigrationsPending, st.Current, st.Latest)
	}
	return nil
}

// secretKey returns the configured secret key or, for SQLite only, the one
// kept in latch.secret beside the database, generating it on first use.
func secretKey(cfg config.Config, log *slog.Logger) ([]byte, error) {
	if cfg.Tokens.SecretKey != "" {
		return []byte(string(cfg.Tokens.SecretKey)), nil
	}
	path := cfg.Database.SecretFile()
	// Whoever can write the directory can plant a key file of their own
	// before the first start, and then knows the key; the SQLite store
	// refuses such a directory too.
	if fi, err := os.Stat(filepath.Dir(path)); err == nil && fi.Mode().Perm()&0o002 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("secret key file %s: its directory is writable by every user (mode %v); keep it and the database in a directory only latch's user can write", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		// A key file made readable by others (by hand, or a copy) is
		// restricted to its owner again, as it was created.
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(path, 0o600); err != nil {
				return nil, fmt.Errorf("secret key file %s is readable by other users and cannot be restricted: %w", path, err)
			}
			log.Warn("secret key file "+path+" was readable by other users; made it 0600", "event", "secret.mode", "path", path, "was", fi.Mode().Perm().String())
		}
		k := strings.TrimSpace(string(b))
		if len(k) < config.MinSecretLen {
			return nil, fmt.Errorf("secret key file %s: shorter than %d characters", path, config.MinSecretLen)
		}
		return []byte(k), nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("secret key file: %w", err)
	}
	var raw [32]byte
	rand.Read(raw[:])
	k := base64.RawURLEncoding.EncodeToString(raw[:])
	// O_EXCL: two processes starting at once must not each write a key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return secretKey(cfg, log)
	} else if err != nil {
		return nil, fmt.Errorf("create secret key file: %w", err)
	}
	if _, err := f.WriteString(k + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("write secret key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("write secret key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write secret key file: %w", err)
	}
	log.Warn("generated a secret key into "+path+"; it encrypts the signing keys, so keep it with the database. In production set LATCH_SECRET_KEY instead.",
		"event", "secret.generated", "path", path)
	return []byte(k), nil
}

// app is a wired latch: what serve and the admin commands share.
type app struct {
	cfg    config.Config
	log    *slog.Logger
	db     store.Store
	tokens *token.Manager
	auth   *auth.Service
	limit  *ratelimit.Throttler
	hasher *password.Hasher
	audit  *audit.Recorder
	mail   *outbox.Sender
	reg    *prometheus.Registry
	memory memoryPlan
}

// openApp loads the configuration, opens and (optionally) migrates the
// database, and wires the domain. The caller closes a.db.
func (e *env) openApp(ctx context.Context, migrate bool) (*app, error) {
	cfg, err := e.loadConfig()
	if err != nil {
		return nil, err
	}
	if e.quiet && cfg.Log.Level < slog.LevelWarn {
		cfg.Log.Level = slog.LevelWarn
	}
	log := newLogger(cfg, e.stderr)
	secret, err := secretKey(cfg, log)
	if err != nil {
		return nil, err
	}
	sealer, err := token.NewSealer(secret)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	db, err := openStore(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			db.Close()
		}
	}()
	if migrate {
		if err := db.Migrate(ctx); err != nil {
			return nil, fmt.Errorf("migrate: %w", err)
		}
	}
	if err := checkSchema(ctx, db); err != nil {
		return nil, err
	}
	tokens, err := token.NewManager(db, sealer, token.Options{
		Issuer:    cfg.HTTP.PublicURL,
		Audience:  cfg.Tokens.Audience,
		Algorithm: cfg.Tokens.SigningAlg,
		AccessTTL: cfg.Tokens.AccessTTL,
		ClientID:  "latch",
		Now:       time.Now,

		ReloadInterval:   cfg.Tokens.KeyReloadInterval,
		RotationInterval: cfg.Tokens.KeyRotationInterval,
	}, log)
	if err != nil {
		return nil, err
	}
	if err := tokens.Init(ctx); err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	plan, err := hashSizing(cfg, e.getenv, debug.SetMemoryLimit(-1), runtime.GOMAXPROCS(0), "/")
	if err != nil {
		log.Warn("cannot read the container's memory limit; hash slots follow the CPUs only (set LATCH_HASH_CONCURRENCY and LATCH_MEMORY_LIMIT to size them)", "event", "hash.cgroup", "error", err)
	}
	conc := plan.Slots
	// A waiting request holds no hashing memory, so the queue is sized to
	// what the slots drain within MaxWait (about 45 ms a hash here): a
	// burst is served a little later instead of refused, and a flood
	// still meets 503 within two seconds.
	hasher, err := password.NewHasher(password.DefaultParams(), password.Limits{Concurrency: conc, Queue: 32 * conc, MaxWait: 2 * time.Second, Memory: plan.MemoryLimit})
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	rec := audit.New(db, log, time.Now, reg)
	a := &app{cfg: cfg, log: log, db: db, tokens: tokens, hasher: hasher, audit: rec, reg: reg, memory: plan}
	deps := auth.Deps{Hasher: hasher, Tokens: tokens, MAC: sealer, Audit: rec, Now: time.Now, Log: log}
	deps.Storage(db)
	a.limit = ratelimit.New(db, ratelimit.DefaultPolicy(), time.Now)
	if cfg.Limits.RateLimit {
		deps.Throttler = a.limit
		deps.Quota = a.limit
	}
	if deps.Renderer, err = mail.NewTemplates(cfg.Pages.ProductName); err != nil {
		return nil, fmt.Errorf("mail templates: %w", err)
	}
	var mailer outbox.Mailer
	if cfg.Mail.SMTP.IsSet() {
		// One quick retry inside a delivery for a blip; the outbox
		// retries anything longer (10 s, doubling, up to 30 min).
		smtp, err := mail.NewSMTP(cfg.Mail.SMTP.Reveal(), cfg.Mail.From, mail.SMTPOptions{Timeout: 10 * time.Second, Retries: 1})
		if err != nil {
			return nil, fmt.Errorf("LATCH_SMTP_URL: %w", err)
		}
		mailer = smtp
	} else if cfg.HTTP.PublicURLLoopback() {
		mailer = mail.NewLog(log) // development: links and codes in the log
	} else {
		// Someone else's server: a link or a code in a log is an account
		// takeover for whoever reads the log (serve warns).
		mailer = mail.NewRedactingLog(log)
	}
	// The service wakes the sender when it enqueues; the sender asks the
	// service what each message says.
	deps.Wake = func() { a.mail.Wake() }
	policy := password.DefaultPolicy()
	if cfg.Passwords.BreachedURL != "" {
		checker, err := password.NewRangeChecker(password.RangeOptions{URL: cfg.Passwords.BreachedURL, FailClosed: cfg.Passwords.BreachedFailClosed, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("breached passwords: %w", err)
		}
		policy.Breached = checker
	}
	a.auth = auth.NewService(deps, auth.Options{
		SessionMaxAge:       cfg.Tokens.SessionMaxAge,
		SessionIdleTimeout:  cfg.Tokens.SessionIdleTimeout,
		RefreshReuseGrace:   cfg.Tokens.RefreshReuseGrace,
		RequireVerification: cfg.Mail.RequireVerification,
		AdminKey:            string(cfg.Ops.AdminKey),
		Policy:              policy,
		Mail:                mailOptions(cfg),
	})
	a.mail = outbox.New(db, mailer, a.auth, rec, time.Now, log)
	ok = true
	return a, nil
}

// mailOptions are the rules of the email flows. Links point at the
// application's pages when LATCH_APP_URL is set, else at latch's own.
func mailOptions(cfg config.Config) auth.MailOptions {
	o := auth.MailOptions{
		LinkBase:     cfg.HTTP.PublicURL,
		VerifyTTL:    cfg.Mail.VerificationTTL,
		RecoverTTL:   cfg.Mail.RecoveryTTL,
		EmailTTL:     cfg.Mail.VerificationTTL,
		OTPTTL:       cfg.Mail.OTPTTL,
		Passwordless: cfg.Mail.Passwordless,
	}
	if cfg.Pages.AppURL != "" {
		o.LinkBase, o.AppLinks = cfg.Pages.AppURL, true
	}
	return o
}
