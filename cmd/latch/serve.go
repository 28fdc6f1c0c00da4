package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
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
	if !cfg.Limits.RateLimit {
		log.Warn("LATCH_RATE_LIMIT=off: login throttling is DISABLED; use this only for benchmarks", "event", "ratelimit.off")
	}

	bg, stopBg := context.WithCancel(context.Background())
	defer stopBg()
	go a.tokens.Run(bg)
	for _, w := range cfg.Warnings() {
		log.Warn(w.Message, "event", w.Event)
	}
	switch {
	case cfg.Mail.SMTP.IsSet():
	case cfg.HTTP.PublicURLLoopback():
		log.Warn("no SMTP server configured (LATCH_SMTP_URL): messages, with their links, are written to this log; fine for development only", "event", "mail.log")
	default:
		log.Warn("no SMTP server configured (LATCH_SMTP_URL) and the public URL is not loopback: messages are written to this log WITHOUT their links and codes (in a log they would let whoever reads it take the account), so nobody can verify, reset or sign in by email; configure LATCH_SMTP_URL", "event", "mail.log.redacted")
	}
	// Every instance sends: claims are leased, so no message goes twice
	// and one instance's death delays its claimed messages by a lease.
	go a.mail.Run(bg, 5*time.Second)

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
	if cfg.Limits.RateLimit {
		deps.Buckets = ratelimit.NewBuckets(cfg.Limits.AddressRate, cfg.Limits.AddressBurst, time.Now)
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
	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	scheme := "http"
	if cfg.HTTP.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.HTTP.TLSCertFile, cfg.HTTP.TLSKeyFile)
		if err != nil {
			ln.Close()
			return fmt.Errorf("TLS: %w", err)
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
		ln = tls.NewListener(ln, srv.TLSConfig)
		scheme = "https"
	}

	// The metrics get a listener of their own (LATCH_METRICS_ADDR,
	// loopback by default): they are the operator's, not the public's.
	// Opened before serving starts, so a taken port fails the start
	// instead of leaving latch up without the metrics it was told to serve.
	var metrics *http.Server
	var metricsLn net.Listener
	metricsAddr := "off"
	if cfg.Ops.MetricsAddr != "" {
		metricsLn, err = net.Listen("tcp", cfg.Ops.MetricsAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("metrics listener (LATCH_METRICS_ADDR): %w", err)
		}
		metricsAddr = metricsLn.Addr().String()
		metrics = &http.Server{
			Handler:           handler.Metrics(),
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       15 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    8 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		}
	}

	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	if metrics != nil {
		go func() { errc <- metrics.Serve(metricsLn) }()
	}
	addr := ln.Addr().String()
	start := []any{"event", "server.start", "addr", addr, "url", scheme + "://" + addr, "metrics_addr", metricsAddr}
	if metrics != nil {
		start = append(start, "metrics_url", "http://"+metricsAddr+"/metrics")
	}
	log.Info("latch is listening", append(start, "public_url", redactedURL(cfg.HTTP.PublicURL), "version", ver, "startup_ms", time.Since(started).Milliseconds())...)
	if e.ready != nil {
		e.ready(addr)
	}

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests", "event", "server.stop", "timeout", cfg.HTTP.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout)
	defer cancel()
	// The public listener drains first; the metrics stay up meanwhile, so
	// the drain itself can be watched.
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	if metrics != nil {
		if err := metrics.Shutdown(sctx); err != nil {
			return fmt.Errorf("shutdown metrics: %w", err)
		}
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve metrics: %w", err)
		}
	}
	log.Info("stopped", "event", "server.stopped")
	return nil
}

// maintain removes ended sessions, old throttle counters, expired
// one-time tokens and expired audit events every LATCH_CLEANUP_INTERVAL,
// and samples the number of active sessions and of waiting messages, until ctx is done. Every instance may run it: the
// deletes are idempotent and batched.
func (a *app) maintain(ctx context.Context, active, outbox prometheus.Gauge) {
	t := time.NewTicker(a.cfg.Ops.CleanupInterval)
	defer t.Stop()
	for {
		if n, err := a.auth.ActiveSessions(ctx); err == nil {
			active.Set(float64(n))
		}
		if n, err := a.db.CountMail(ctx); err == nil {
			outbox.Set(float64(n))
		}
		// Each package cleans its own tables.
		c, err := a.auth.Cleanup(ctx)
		throttles, err2 := a.limit.Cleanup(ctx)
		events, err3 := a.audit.Prune(ctx, a.cfg.Ops.AuditRetention)
		switch err := errors.Join(err, err2, err3); {
		case err != nil && ctx.Err() == nil:
			a.log.Warn("clean-up failed; will retry", "event", "cleanup.error", "error", err)
		case c.Sessions+throttles+events+c.OneTimeTokens > 0:
			a.log.Info("cleaned up", "event", "cleanup", "sessions", c.Sessions, "throttles", throttles, "audit_events", events, "one_time_tokens", c.OneTimeTokens)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// redactedURL is u with the password of its userinfo, if any, masked, for
// logging.
func redactedURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	return p.Redacted()
}
