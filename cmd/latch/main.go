// Command latch is a self-hosted user-authentication server: sign up, sign
// in, short-lived signed access tokens and rotating refresh tokens, on an
// embedded SQLite database or on PostgreSQL.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitStatus(err))
}
