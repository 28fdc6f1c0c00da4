// Package auth is latch's domain: signing up, signing in with a password,
// rotating refresh tokens, authenticating access tokens against live
// sessions, changing a user, listing and ending sessions, revocation and
// introspection, and the administrator's user commands.
//
// It decides every rule about accounts and sessions (who may sign in, when
// a session has ended, what counts as refresh-token re-use) and reads the
// time only from its injected clock. It knows nothing of HTTP: handlers in
// internal/server translate its errors into status codes, and it talks to
// the database only through the store interface.
package auth
