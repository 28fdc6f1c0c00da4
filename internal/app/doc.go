// Package app wires latch: from a loaded configuration it opens the
// database, loads the signing keys and builds the domain service, the
// outbox sender and, on request, the HTTP server. The serve and admin
// commands and the HTTP tests all build latch here, so the parts are
// joined one way only; tests swap in their own store, clock, secret and
// hasher with options.
//
// It starts no goroutine and serves nothing: running the key reloader,
// the sender and the clean-up (Maintain), and listening, are the serve
// command's. The secret-key file beside a SQLite database is made here
// (SecretKey), on first start.
package app
