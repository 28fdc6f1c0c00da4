// Package verify lets a Go service accept latch access tokens without
// calling latch on each request: it checks them offline against the
// signing keys latch publishes in its JWKS.
//
//	v, err := verify.New(ctx, "https://auth.example.com", verify.Options{Audience: []string{"https://api.example.com"}})
//	http.Handle("/api/", v.Middleware(apiHandler)) // 401 without a valid Bearer token
//	c, ok := verify.ClaimsFrom(r.Context())        // in apiHandler: c.Subject, c.Email, ...
//
// Verifier.Verify checks one token, following RFC 8725 (JWT best current
// practices) and RFC 9068 §4 (JWT access tokens); Verifier.Middleware
// applies it to the Authorization: Bearer header (RFC 6750), and
// RequireScope and RequireAAL narrow a route further.
//
// A token verified offline stays valid until it expires, even after its
// session is revoked in latch; latch keeps access tokens short-lived for
// that reason. A service that must see revocations at once asks latch
// (GET /v1/user or token introspection) instead.
//
// The package owns the key cache and the token checks. It depends only on
// the standard library and go-jose (for reading JWKs), never on latch's
// internal packages, so that importing it stays cheap.
package verify
