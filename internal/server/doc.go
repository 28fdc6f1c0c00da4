// Package server is latch's HTTP layer and its JSON API: the routes
// (routes.go, every endpoint in one place), the request decoder and
// response encoder (json.go), the error writer that turns every error into
// {"error", "error_description"} with the right status (errors.go), and
// the middleware (request ids, the client's address, logging, metrics,
// security headers, panics). Handlers are named after what they serve:
// signup.go, token.go, user.go, sessions.go, email.go, revoke.go,
// wellknown.go; address.go, limits.go and cors.go hold the client's
// address, the per-address bucket and CORS.
//
// Pages for browsers live apart, in internal/web; routes.go mounts them.
// Handlers parse and validate requests and call internal/auth; they hold
// no rules about accounts or sessions and never touch the database.
package server
