package apperr

// The error codes of the v1 API. They are part of the contract: never
// rename one; add new ones.
const (
	CodeInvalidRequest       = "invalid_request"
	CodeUnsupportedGrantType = "unsupported_grant_type"
	CodeInvalidGrant         = "invalid_grant"
	CodeInvalidToken         = "invalid_token"
	CodeForbidden            = "forbidden"
	CodeEmailNotVerified     = "email_not_verified"
	CodeNotFound             = "not_found"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeEmailTaken           = "email_taken"
	CodePayloadTooLarge      = "payload_too_large"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeWeakPassword         = "weak_password"
	CodeRateLimited          = "rate_limited"
	CodeUnavailable          = "unavailable"
	CodeInternal             = "internal_error"
	// CodeInsufficientAuth is RFC 9470's: the change needs a recent
	// sign-in.
	CodeInsufficientAuth = "insufficient_user_authentication"
	// CodeSignupDisabled: self-service sign-up is off (LATCH_SIGNUP=off).
	CodeSignupDisabled = "signup_disabled"
)

// Codes of social sign-in.
const (
	// CodeIdentityLinkRequired: an account with the provider's address
	// exists; the person signs in to it and links the provider there.
	CodeIdentityLinkRequired = "identity_link_required"
	// CodeIdentityTaken: the provider's account is linked to another user.
	CodeIdentityTaken = "identity_taken"
	// CodeLastSignInMethod: the change would leave no way to sign in.
	CodeLastSignInMethod = "last_sign_in_method"
)

// Codes of second factors.
const (
	// CodeMFARequired: the credential was right and the account has a
	// second factor; the answer carries an mfa_token for grant_type=mfa.
	CodeMFARequired = "mfa_required"
	// CodeInvalidMFA: a wrong or used TOTP code, WebAuthn answer or
	// recovery code.
	CodeInvalidMFA = "invalid_mfa"
)
