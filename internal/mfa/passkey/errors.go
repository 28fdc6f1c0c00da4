package passkey

import (
	"errors"
	"fmt"
)

// ErrInvalid is matched (errors.Is) by every error of Register and Login
// that says the response is not acceptable, whichever sentinel below it
// also matches: the caller answers invalid_mfa for all of them.
var ErrInvalid = errors.New("passkey: invalid response")

// The reasons a response is refused. Each matches ErrInvalid too.
var (
	// ErrMalformed: not a registration or authentication response of the
	// expected ceremony (JSON, base64url, CBOR, authenticator data), or
	// larger than MaxResponseSize.
	ErrMalformed error = invalid("passkey: malformed response")
	// ErrChallenge: the client data's challenge is not the one given, as
	// when a response made for another ceremony is replayed.
	ErrChallenge error = invalid("passkey: wrong challenge")
	// ErrOrigin: the client data's origin is not one of Config.Origins, or
	// the ceremony ran in a cross-origin iframe.
	ErrOrigin error = invalid("passkey: origin not allowed")
	// ErrRPID: the authenticator data's RP id hash is not the SHA-256 of
	// Config.RPID.
	ErrRPID error = invalid("passkey: wrong RP id")
	// ErrUserPresence: the authenticator did not set the user present
	// flag.
	ErrUserPresence error = invalid("passkey: user presence missing")
	// ErrUserVerification: user verification was required and the
	// authenticator did not set the user verified flag.
	ErrUserVerification error = invalid("passkey: user verification required but not done")
	// ErrFlags: the backup flags are inconsistent: backed up but not
	// backup eligible, or backup eligibility differs from registration.
	ErrFlags error = invalid("passkey: inconsistent backup flags")
	// ErrAttestation: the attestation does not verify, or the credential's
	// algorithm is not one the options offered.
	ErrAttestation error = invalid("passkey: attestation does not verify")
	// ErrNotAllowed: the credential is not in the allow list.
	ErrNotAllowed error = invalid("passkey: credential not allowed")
	// ErrUserHandle: a discoverable login without user handle, or a user
	// handle that is not the ID of the user find returned.
	ErrUserHandle error = invalid("passkey: user handle missing or not the credential's user")
	// ErrSignature: the assertion's signature does not verify with the
	// stored public key.
	ErrSignature error = invalid("passkey: signature does not verify")
)

// invalidError is a reason for refusing a response; it matches ErrInvalid.
type invalidError struct{ msg string }

func invalid(msg string) *invalidError { return &invalidError{msg} }

func (e *invalidError) Error() string { return e.msg }

// Is makes every reason match ErrInvalid.
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

// refuse returns the error of reason with a detail for the log; detail
// comes from the response, so it is quoted and cut short.
func refuse(reason error, detail string) error {
	const maxDetail = 80
	if len(detail) > maxDetail {
		detail = detail[:maxDetail] + "…"
	}
	return fmt.Errorf("%w: %q", reason, detail)
}
