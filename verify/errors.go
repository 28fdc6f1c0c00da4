package verify

import "fmt"

// A tokenError is a refused token. reason is a fixed phrase, safe to send
// to the client as an error_description; detail is for logs and may
// quote (bounded) parts of the token.
type tokenError struct {
	reason string
	detail string
}

func (e *tokenError) Error() string {
	return ErrInvalidToken.Error() + ": " + e.reason + ": " + e.detail
}

func (e *tokenError) Is(target error) bool { return target == ErrInvalidToken }

// The reasons a token is refused, as clients read them.
const (
	reasonMalformed   = "the access token is malformed"
	reasonAlgorithm   = "the access token's signature algorithm is not accepted"
	reasonType        = "the token is not an access token (typ at+jwt)"
	reasonUnknownKey  = "the access token is signed by an unknown key"
	reasonSignature   = "the access token's signature is invalid"
	reasonIssuer      = "the access token is from another issuer"
	reasonAudience    = "the access token is meant for another audience"
	reasonExpired     = "the access token expired"
	reasonNotYetValid = "the access token is not valid yet"
)

func reasonMissing(claim string) string {
	return "the access token has no " + claim + " claim"
}

func invalid(reason, format string, args ...any) error {
	return &tokenError{reason: reason, detail: fmt.Sprintf(format, args...)}
}
