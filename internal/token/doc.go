// Package token owns latch's access tokens and the keys that sign them:
// generating signing keys, sealing their private parts before they reach
// the store, rotating them (next → current → previous → retired), issuing
// RFC 9068 JWT access tokens, verifying them strictly (RFC 8725), and
// building the JWKS document that publishes the public keys.
//
// It also offers the Sealer's keyed MAC to other packages, so that every
// secret derived from the server's secret key is derived in one place.
//
// The package must not speak HTTP or SQL: handlers in internal/server
// serve JWKS and Algorithms, and it reaches the database only through the
// small KeyStore interface that store.Store satisfies.
package token
