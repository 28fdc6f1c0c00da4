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

	"github.com/latchauth/latch/internal/app"
	"github.com/latchauth/latch/internal/config"
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

// serve runs latch until ctx is done, then lets in-flight requests
// finish.
func (e *env) serve(ctx context.Context, migrate bool) error {
	started := time.Now()
	a, plan, err := e.openApp(ctx, migrate)
	if err != nil {
		return err
	}
	defer a.Close()
	cfg, log := a.Config, a.Log
	defer applyMemoryLimit(plan, log)()
	logStartWarnings(cfg, log)

	bg, stopBg := context.WithCancel(context.Background())
	defer stopBg()
	runBackground(bg, a)
	ver, _ := version()
	l, err := listen(cfg, a.NewServer(ver), log, bg)
	if err != nil {
		return err
	}
	errc := l.serve()
	log.Info("latch is listening", append(l.startAttrs(), "public_url", cfg.HTTP.PublicURLRedacted(), "version", ver, "startup_ms", time.Since(started).Milliseconds())...)
	if e.ready != nil {
		e.ready(l.public.Addr().String())
	}

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests", "event", "server.stop", "timeout", cfg.HTTP.ShutdownTimeout.String())
	if err := l.shutdown(cfg.HTTP.ShutdownTimeout, errc); err != nil {
		return err
	}
	log.Info("stopped", "event", "server.stopped")
	return nil
}

// logStartWarnings logs, once at start, the settings that weaken latch.
func logStartWarnings(cfg config.Config, log *slog.Logger) {
	if !cfg.Limits.RateLimit {
		log.Warn("LATCH_RATE_LIMIT=off: login throttling is DISABLED; use this only for benchmarks", "event", "ratelimit.off")
	}
	for _, w := range cfg.Warnings() {
		log.Warn(w.Message, "event", w.Event)
	}
	switch cfg.Mail.Delivery {
	case config.DeliverLog:
		log.Warn("no SMTP server configured (LATCH_SMTP_URL): messages, with their links, are written to this log; fine for development only", "event", "mail.log")
	case config.DeliverRedactedLog:
		log.Warn("no SMTP server configured (LATCH_SMTP_URL) and the public URL is not loopback: messages are written to this log WITHOUT their links and codes (in a log they would let whoever reads it take the account), so nobody can verify, reset or sign in by email; configure LATCH_SMTP_URL", "event", "mail.log.redacted")
	}
}

// runBackground starts, until ctx is done, what every instance runs
// beside the requests: the key reloader, the mail sender and the
// clean-up with the gauges it samples.
func runBackground(ctx context.Context, a *app.Latch) {
	go a.Tokens.Run(ctx)
	// Every instance sends: claims are leased, so no message goes twice
	// and one instance's death delays its claimed messages by a lease.
	go a.Mail.Run(ctx, 5*time.Second)

	reg := a.Registry
	registerHashMetrics(reg, a.Hasher)
	registerPoolMetrics(reg, a.DB)
	active := prometheus.NewGauge(prometheus.GaugeOpts{Name: "latch_active_sessions", Help: "Sessions that can be used now (sampled at each clean-up)."})
	reg.MustRegister(active)
	outbox := prometheus.NewGauge(prometheus.GaugeOpts{Name: "latch_mail_outbox_messages", Help: "Messages waiting in the outbox to be sent (sampled at each clean-up)."})
	reg.MustRegister(outbox)
	go a.Maintain(ctx, active, outbox)
}

// listeners are the public listener and, unless LATCH_METRICS_ADDR=off,
// the metrics listener, open but not yet serving.
type listeners struct {
	public, metricsLn net.Listener
	srv, metrics      *http.Server // metrics: nil when off
	scheme            string
}

// listen opens the listeners. The metrics get one of their own
// (LATCH_METRICS_ADDR, loopback by default): they are the operator's, not
// the public's. Both are opened before serving starts, so a taken port
// fails the start instead of leaving latch up without the metrics it was
// told to serve.
func listen(cfg config.Config, handler *server.Server, log *slog.Logger, base context.Context) (*listeners, error) {
	l := &listeners{scheme: "http", srv: httpServer(handler, 32<<10, log)}
	l.srv.BaseContext = func(net.Listener) context.Context { return base }
	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	if cfg.HTTP.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.HTTP.TLSCertFile, cfg.HTTP.TLSKeyFile)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("TLS: %w", err)
		}
		l.srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
		ln = tls.NewListener(ln, l.srv.TLSConfig)
		l.scheme = "https"
	}
	l.public = ln
	if cfg.Ops.MetricsAddr != "" {
		if l.metricsLn, err = net.Listen("tcp", cfg.Ops.MetricsAddr); err != nil {
			ln.Close()
			return nil, fmt.Errorf("metrics listener (LATCH_METRICS_ADDR): %w", err)
		}
		l.metrics = httpServer(handler.Metrics(), 8<<10, log)
	}
	return l, nil
}

// httpServer is an http.Server with latch's timeouts, logging its errors
// at debug level.
func httpServer(h http.Handler, maxHeaderBytes int, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

// serve serves each listener on a goroutine of its own; each one's end
// arrives on the channel.
func (l *listeners) serve() <-chan error {
	errc := make(chan error, 2)
	go func() { errc <- l.srv.Serve(l.public) }()
	if l.metrics != nil {
		go func() { errc <- l.metrics.Serve(l.metricsLn) }()
	}
	return errc
}

// startAttrs are the server.start log event's addresses.
func (l *listeners) startAttrs() []any {
	addr := l.public.Addr().String()
	metricsAddr := "off"
	if l.metrics != nil {
		metricsAddr = l.metricsLn.Addr().String()
	}
	attrs := []any{"event", "server.start", "addr", addr, "url", l.scheme + "://" + addr, "metrics_addr", metricsAddr}
	if l.metrics != nil {
		attrs = append(attrs, "metrics_url", "http://"+metricsAddr+"/metrics")
	}
	return attrs
}

// shutdown lets in-flight requests finish within timeout. The public
// listener drains first; the metrics stay up meanwhile, so the drain
// itself can be watched.
func (l *listeners) shutdown(timeout time.Duration, errc <-chan error) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := l.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	if l.metrics == nil {
		return nil
	}
	if err := l.metrics.Shutdown(ctx); err != nil {
		return fmt.Errorf("shutdown metrics: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve metrics: %w", err)
	}
	return nil
}
