// Package passkey is latch's WebAuthn relying party: it writes the options
// a browser passes to navigator.credentials.create() and .get(), and checks
// what the browser sends back, for passkeys as a first factor and for
// security keys and passkeys as a second one (DESIGN.md). It is a thin layer
// over github.com/go-webauthn/webauthn, which the rest of latch must not
// import: this package's types are all it sees.
//
// Both directions use WebAuthn Level 3's JSON forms: the options are what
// PublicKeyCredential.parseCreationOptionsFromJSON() and
// parseRequestOptionsFromJSON() take (base64url strings, not wrapped in
// {"publicKey": …}), and the responses are what credential.toJSON() gives.
//
// The caller chooses every challenge and passes it to both halves of a
// ceremony: the options that carry it and the check of the response. This
// package keeps no session, reads no clock and remembers nothing, so each
// function is deterministic given its arguments. Making a challenge
// unpredictable (at least MinChallengeSize bytes from crypto/rand, or
// derived from such bytes under a secret), keeping it for the ceremony's
// Timeout, and accepting it once are the caller's duties: a response
// replayed with the challenge it was made for verifies again here.
//
// What it checks, following WebAuthn Level 3 §7.1 and §7.2: the ceremony
// type, the challenge, the origin (one of Config.Origins; cross-origin
// iframes are refused), the RP id hash, user presence, user verification
// when required, the backup flags (BS without BE is invalid, and BE never
// changes for a credential), the attestation statement (latch asks for
// none and accepts any format go-webauthn verifies, without trust anchors)
// and, at login, the allow list, the user handle, the signature with the
// stored public key, and the sign count. A sign count that does not grow
// is reported as Assertion.CloneWarning, not as an error: the caller
// decides (latch refuses and audits).
//
// Every error that says the response is not acceptable matches ErrInvalid
// (errors.Is), and one of the more precise sentinels below it, so the
// caller can answer invalid_mfa and still log why. Other errors are the
// caller's own (a challenge too short, a find function's error, returned
// as is) or bugs.
//
// It must not know about HTTP, the store, sessions or tokens, and it never
// puts a challenge or key material into an error.
package passkey
