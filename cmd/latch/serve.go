package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/latchauth/latch/internal/ratelimit"
	"github.com/latchauth/latch/internal/server"
)

func newServe(e *env) *cobra.Command {
	var noMigrate bool
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the latch HTTP server",
		Long: `Run the latch HTTP server. Pending database migrations are applied
first unless --no-migrate is given; signing keys are generated on first
start. SIGTERM or Ctrl-C stops accepting connections and lets in-flight
requests finish (up to LATCH_SHUTDOWN_TIMEOUT).`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.serve(cmd.Context(), !noMigrate)
		},
	}
	c.Flags().BoolVar(&noMigrate, "no-migrate", false, "do not apply pending migrations; refuse to start if any are pending")
	return c
}

func (e *env) serve(ctx context.Context, migrate bool) error {
	started := time.Now()
	a, err := e.openApp(ctx, migrate)
	if err != nil {
		return err
	}
	defer a.db.Close()
	cfg, log := a.cfg, a.log
	defer applyMemoryLimit(a.memory, log)()
	if !cfg.RateLimit {
		log.Warn("LATCH_RATE_LIMIT=off: login throttling is DISABLED; use this only for benchmarks", "event", "ratelimit.off")
	}

	bg, stopBg := context.WithCancel(context.Background())
	defer stopBg()
	go a.tokens.Run(bg)
	if cfg.SMTPURL == "" {
		log.Warn("no SMTP server configured (LATCH_SMTP_URL): messages, with their links, are written to this log; fine for development only", "event", "mail.log")
	}
	// Every instance sends: claims are leased, so no message goes twice
	// and one instance's death delays its claimed messages by a lease.
	go a.auth.RunMail(bg, 5*time.Second)

	ver, _ := version()
	reg := a.reg
	registerHashMetrics(reg, a.hasher)
	registerPoolMetrics(reg, a.db)
	active := prometheus.NewGauge(prometheus.GaugeOpts{Name: "latch_active_sessions", Help: "Sessions that can be used now (sampled at each clean-up)."})
	reg.MustRegister(active)
	outbox := prometheus.NewGauge(prometheus.GaugeOpts{Name: "latch_mail_outbox_messages", Help: "Messages waiting in the outbox to be sent (sampled at each clean-up)."})
	reg.MustRegister(outbox)
	go a.maintain(bg, active, outbox)
	deps := server.Deps{Config: cfg, Auth: a.auth, Keys: a.tokens, DB: a.db, Log: log, Registry: reg, Version: ver}
	if cfg.RateLimit {
		deps.Buckets = ratelimit.NewBuckets(cfg.AddressRate, cfg.AddressBurst, time.Now)
	}
	handler := server.New(deps)
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return bg },
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	scheme := "http"
	if cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			ln.Close()
			return fmt.Errorf("TLS: %w", err)
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
		ln = tls.NewListener(ln, srv.TLSConfig)
		scheme = "https"
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	addr := ln.Addr().String()
	log.Info("latch is listening", "event", "server.start", "addr", addr, "url", scheme+"://"+addr,
		"public_url", cfg.PublicURL, "version", ver, "startup_ms", time.Since(started).Milliseconds())
	if e.ready != nil {
		e.ready(addr)
	}

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests", "event", "server.stop", "timeout", cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped", "event", "server.stopped")
	return nil
}

// maintain removes ended sessions, old throttle counters, expired
// one-time tokens and expired audit events every LATCH_CLEANUP_INTERVAL,
// and samples the number of active sessions and of waiting messages, until ctx is done. Every instance may run it: the
// deletes are idempotent and batched.
func (a *app) maintain(ctx context.Context, active, outbox prometheus.Gauge) {
	t := time.NewTicker(a.cfg.CleanupInterval)
	defer t.Stop()
	for {
		if n, err := a.auth.ActiveSessions(ctx); err == nil {
			active.Set(float64(n))
		}
		if n, err := a.db.CountMail(ctx); err == nil {
			outbox.Set(float64(n))
		}
		c, err := a.auth.Cleanup(ctx, a.cfg.AuditRetention)
		switch {
		case err != nil && ctx.Err() == nil:
			a.log.Warn("clean-up failed; will retry", "event", "cleanup.error", "error", err)
		case c.Sessions+c.Throttles+c.AuditEvents+c.OneTimeTokens > 0:
			a.log.Info("cleaned up", "event", "cleanup", "sessions", c.Sessions, "throttles", c.Throttles, "audit_events", c.AuditEvents, "one_time_tokens", c.OneTimeTokens)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
