// Package server is latch's HTTP layer: the routes, the request decoder
// and response encoder, the error writer that turns every error into
// {"error", "error_description"} with the right status, and the
// middleware (request ids, client address, logging, metrics, security
// headers, panics).
//
// Handlers parse and validate requests and call internal/auth; they hold
// no rules about accounts or sessions and never touch the database.
package server
