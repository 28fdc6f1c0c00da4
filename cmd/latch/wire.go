package main

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/latchauth/latch/internal/app"
	"github.com/latchauth/latch/internal/config"
	"github.com/latchauth/latch/internal/password"
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

// openApp loads the configuration and builds latch on it (app.Build),
// with the password hasher sized for this machine; plan is that sizing,
// which serve applies. The caller closes the app.
func (e *env) openApp(ctx context.Context, migrate bool) (a *app.Latch, plan memoryPlan, err error) {
	cfg, err := e.loadConfig()
	if err != nil {
		return nil, plan, err
	}
	if e.quiet && cfg.Log.Level < slog.LevelWarn {
		cfg.Log.Level = slog.LevelWarn
	}
	log := newLogger(cfg, e.stderr)
	plan, hasher, err := e.newHasher(cfg, log)
	if err != nil {
		return nil, plan, err
	}
	var opts []app.Option
	if migrate {
		opts = append(opts, app.WithMigrations())
	}
	a, err = app.Build(ctx, cfg, log, hasher, opts...)
	return a, plan, err
}

// newHasher sizes the password hasher from the configuration, the CPUs
// and the container's memory (hashSizing).
func (e *env) newHasher(cfg config.Config, log *slog.Logger) (memoryPlan, *password.Hasher, error) {
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
	return plan, hasher, err
}
