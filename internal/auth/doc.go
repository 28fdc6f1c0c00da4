// Package auth is latch's domain: signing up, signing in (password,
// emailed code or link, an authorization code from a browser session),
// rotating refresh tokens, authenticating access
// tokens against live sessions, changing a user, listing and ending
// sessions, revocation and introspection, the email flows and the
// administrator's user commands.
//
// Files by flow: signup.go, signin.go (password), emailflows.go (links and
// codes), browser.go (the browser session of latch's pages), authcode.go
// (the authorization-code flow), funnel.go (where every sign-in ends: an
// app session with tokens, or a browser session), refresh.go, sessions.go
// (logout, revocation, introspection), account.go (a user's own changes),
// device.go (device tokens), mail.go (what each message says), admin.go,
// cleanup.go; federated.go and flow.go (social sign-in); factors.go
// (enrolling second factors), mfa.go (the second step: openSession's gate
// and the mfa_token), passkey.go (a passkey as the first factor).
//
// It decides every rule about accounts and sessions (who may sign in, when
// a session has ended, what counts as refresh-token re-use, which sessions
// a change ends) and reads the time only from its injected clock. It knows
// nothing of HTTP: handlers in internal/server translate its errors into
// status codes, and it talks to the database only through the store roles
// it names in Store.
package auth
