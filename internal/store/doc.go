// Package store defines latch's persistent entities (users, sessions,
// signing keys, throttle counters, audit events, one-time email tokens,
// the mail outbox, social identities with their ID-token nonces, and
// second factors), the Store interface every database backend
// implements, and the sentinel errors backends map driver errors onto.
//
// It holds no logic about what the entities mean: expiry, rotation,
// revocation and retention rules live in the domain packages, which pass
// the store their cut-off times. Backends live in subpackages (sqlite,
// postgres) and must pass the one conformance suite in storetest.
package store
