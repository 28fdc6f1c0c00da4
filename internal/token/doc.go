// Package token owns latch's access tokens and the keys that sign them:
// generating signing keys, sealing their private parts before they reach
// the store, rotating them (next → current → previous → retired; by hand,
// or on a schedule agreed through the store's lock), issuing RFC 9068 JWT
// access tokens, verifying them strictly (RFC 8725), and building the JWKS
// document that publishes the public keys.
//
// Tokens are encoded, signed and verified with the standard library alone,
// on the hot path of every request; go-jose only encodes the published
// JWKs and computes their RFC 7638 thumbprints, once per key.
//
// It also offers the Sealer's keyed MAC to other packages, so that every
// secret derived from the server's secret key is derived in one place.
//
// The package must not speak HTTP or SQL: handlers in internal/server
// serve JWKS (cached for JWKSMaxAge, the figure the rotation guard waits
// on) and Algorithms, and it reaches the database only through the
// small KeyStore interface that store.Store satisfies.
package token
