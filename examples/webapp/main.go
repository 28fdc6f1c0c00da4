// Command webapp is a small web application that signs people in with
// latch, using only Go's standard library. It is a confidential client of
// the OAuth 2.1 authorization-code flow with PKCE:
//
//  1. "Sign in" (POST /login) makes a PKCE verifier and a state, keeps
//     them on the server, and sends the browser to latch's
//     /v1/authorize with the verifier's SHA-256 (the challenge).
//  2. latch signs the person in on its own pages and sends the browser
//     back to /callback with a one-time code, the state and its issuer.
//  3. /callback checks state and issuer, then trades the code and the
//     verifier for tokens at latch's token endpoint, server to server.
//  4. The tokens stay in this process's memory; the browser only holds
//     an opaque session cookie. Pages call /v1/user with the access
//     token, refresh it when it nears expiry, and "Sign out" calls
//     /v1/logout.
//
// Run it next to latch (see README.md):
//
//	LATCH_REDIRECT_URLS=http://127.0.0.1:3000/callback go run ./cmd/latch serve
//	go run ./examples/webapp
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "webapp:", err)
		os.Exit(1)
	}
}

// run reads the flags (defaults from LATCH_URL and WEBAPP_ADDR), serves
// until ctx ends, then shuts down.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fl := flag.NewFlagSet("webapp", flag.ContinueOnError)
	fl.SetOutput(stderr)
	latchURL := fl.String("latch", orDefault(getenv("LATCH_URL"), "http://localhost:8080"), "latch's URL (env LATCH_URL)")
	addr := fl.String("addr", orDefault(getenv("WEBAPP_ADDR"), "127.0.0.1:3000"), "this app's listen address, host:port (env WEBAPP_ADDR)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	redirect, err := redirectURI(*addr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	a := newApp(config{latchURL: *latchURL, redirectURI: redirect, log: log})
	srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("listening", "open", "http://"+*addr+"/", "latch", *latchURL,
		"redirect_uri", redirect, "note", "latch's LATCH_REDIRECT_URLS must list redirect_uri exactly")
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// redirectURI is where latch sends the browser back: this app's
// /callback at the address it listens on. It must name a host the
// browser can reach, and match an entry of LATCH_REDIRECT_URLS exactly.
func redirectURI(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("-addr %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return "", errors.New("-addr needs a host the browser can reach, such as 127.0.0.1:3000: it is also the redirect URI latch sends people back to")
	}
	return "http://" + net.JoinHostPort(host, port) + "/callback", nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
