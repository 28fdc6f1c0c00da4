// Command resource-server is a tiny API that accepts latch access tokens,
// verified offline with the verify package. GET /hello answers with the
// caller's email and user id; without a valid token it answers 401.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/latchauth/latch/verify"
)

// addr is where the example listens: loopback only, since it is a demo.
const addr = "127.0.0.1:9090"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Getenv, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "resource-server:", err)
		os.Exit(1)
	}
}

// run reads LATCH_ISSUER (default http://localhost:8080) and AUDIENCE
// (default the issuer, which is also latch's default audience), and
// serves until ctx ends.
func run(ctx context.Context, getenv func(string) string, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, nil))
	issuer := getenv("LATCH_ISSUER")
	if issuer == "" {
		issuer = "http://localhost:8080"
	}
	audience := getenv("AUDIENCE")
	if audience == "" {
		audience = issuer
	}
	v, err := verify.New(ctx, issuer, verify.Options{Audience: []string{audience}, Logger: log})
	if errors.Is(err, verify.ErrUnavailable) {
		return fmt.Errorf("%w (is latch running? go run ./cmd/latch serve)", err)
	}
	if err != nil {
		return err
	}

	srv := &http.Server{
		Addr:              addr,
		Handler:           newServer(v),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("listening", "addr", "http://"+addr, "issuer", issuer, "audience", audience)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// newServer routes the API; every route sits behind the Middleware.
func newServer(v *verify.Verifier) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /hello", v.Middleware(handleHello()))
	return mux
}

func handleHello() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Middleware ran first, so the claims are there.
		c, _ := verify.ClaimsFrom(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"hello": c.Email, "sub": c.Subject})
	})
}
