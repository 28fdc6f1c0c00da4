// Package passkeytest is a software WebAuthn authenticator for Go tests:
// it plays the browser and the authenticator together, turning the options
// a relying party sends into the RegistrationResponseJSON and
// AuthenticationResponseJSON that credential.toJSON() gives in a browser.
//
// The objects are real, so a test verifies them with the relying party's
// own code and never stubs the verification (DESIGN.md): an ECDSA P-256 key
// per credential, a CBOR attestation object of format "none", authenticator
// data with the SHA-256 of the RP id, the flags, the sign count and, at
// registration, the attested credential data with the COSE key; client data
// with the ceremony type, the challenge and the origin; and an ASN.1 DER
// signature over the authenticator data followed by the SHA-256 of the
// client data.
//
// It behaves like a well-behaved client by default: it refuses an RP id
// that is not the origin's host or a parent domain of it, an excluded
// credential, and required user verification it cannot give. Attacks are
// per-call options (WithOrigin, WithRPID, WithoutUserPresence,
// WithoutUserVerification) and methods (SetSignCount); a test that needs
// to tamper with the bytes decodes the response and changes them itself.
//
// An Authenticator is safe for concurrent use once its fields are set: the
// fields are read by every call and must not change while calls run; the
// credentials it holds are guarded by a mutex.
//
// It is a test helper in a normal package, so that the tests of other
// packages can import it; production code must not. It depends only on the
// standard library and CBOR, not on the relying party it tests.
package passkeytest
