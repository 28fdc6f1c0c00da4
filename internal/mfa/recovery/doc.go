// Package recovery owns latch's recovery codes: the ten single-use codes a
// person keeps on paper for the day their authenticator is lost (NIST SP
// 800-63B §5.1.2 calls them look-up secrets). It makes them, reads them
// back however a person types them, and hashes them for storage, since
// only hashes are kept (DESIGN.md).
//
// A code is ten characters of Crockford's base32 alphabet, lower case, in
// two groups of five ("k7m2q-x9p4w"): 50 bits, with no i, l, o or u to
// misread. Normalize forgives what people do when they type one: capitals,
// spaces, missing, extra or typographic dashes, and o, i or l for 0, 1, 1.
//
// It must not know about HTTP, JSON, the store or users: the caller keeps
// the hashes, marks a code used in the same transaction that accepts it,
// rate-limits guesses, and owns the key. It never puts a code into an
// error or a log.
package recovery
