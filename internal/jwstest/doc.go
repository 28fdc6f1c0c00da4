// Package jwstest builds and checks JSON Web Signatures by hand, with the
// standard library alone, for the tests and benchmarks of internal/token
// and verify: tokens that no well-behaved library would write (odd
// headers, repeated members, foreign keys, HMAC), and the bare signature
// check that the verifiers' benchmarks are measured against.
//
// It is test support only: no package's non-test code imports it, and
// verify's must not, since verify is a library that may import nothing
// of latch's internals.
package jwstest
