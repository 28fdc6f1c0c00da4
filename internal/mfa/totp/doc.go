// Package totp owns latch's time-based one-time passwords (RFC 6238): the
// factor's secret, the codes an authenticator app shows, their verification
// with replay refusal, and the otpauth:// URI that enrols an app.
//
// The parameters are those every authenticator app understands and that
// DESIGN.md fixes: HMAC-SHA-1, 6 digits, a 30-second period from the Unix
// epoch, and a tolerance of one step either way for clock drift and network
// delay (RFC 6238 §5.2). SHA-256, SHA-512 and 8 digits exist only inside the
// package, so that the tests can check every vector of RFC 6238 Appendix B.
//
// Replay: RFC 6238 §5.2 says a verifier must not accept a code twice. Verify
// takes the last time step the factor accepted and refuses that step and any
// earlier one; on success it returns the step it accepted, which the caller
// stores as the factor's new last step in the same transaction that checks
// the old one. A code can therefore be used once, and never after a later
// one.
//
// It must not know about HTTP, JSON, the store, users or how secrets are kept
// at rest (the caller seals them): it takes bytes, strings and times and
// answers values. It never puts a secret or a code into an error or a log,
// and it reads no clock of its own: the caller passes now.
package totp
