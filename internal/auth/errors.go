package auth

import (
	"net/http"

	"github.com/latchauth/latch/internal/apperr"
	"github.com/latchauth/latch/internal/password"
)

// Errors the domain returns, each carrying its code, status and message
// (apperr); match them with errors.Is. Messages are part of the API's
// contract, as the codes are.
var (
	// ErrInvalidCredentials: wrong email or password, or a disabled
	// account; one error for all so that answers do not tell them apart.
	ErrInvalidCredentials = apperr.New(http.StatusBadRequest, apperr.CodeInvalidGrant, "invalid email or password")
	// ErrInvalidGrant: the refresh token is unknown, expired, revoked or
	// re-used.
	ErrInvalidGrant = apperr.New(http.StatusBadRequest, apperr.CodeInvalidGrant, "refresh token is invalid, expired or revoked")
	// ErrSignupDisabled: self-service sign-up is off.
	ErrSignupDisabled = apperr.New(http.StatusForbidden, apperr.CodeSignupDisabled, "sign-up is disabled on this server; ask an administrator for an invitation")
	// ErrInvalidCode: the authorization code is unknown, expired, used,
	// or does not match the redirect URI or the code verifier.
	ErrInvalidCode = apperr.New(http.StatusBadRequest, apperr.CodeInvalidGrant, "authorization code is invalid, expired or already used, or does not match redirect_uri or code_verifier")
	// ErrInvalidToken: the access token is missing, malformed, expired, or
	// its session has ended.
	ErrInvalidToken = apperr.New(http.StatusUnauthorized, apperr.CodeInvalidToken, "access token is missing, invalid, expired or revoked")
	// ErrEmailTaken: signup of an email that has an account, where that
	// cannot be hidden (verification not required).
	ErrEmailTaken = apperr.New(http.StatusConflict, apperr.CodeEmailTaken, "an account with this email already exists")
	// ErrEmailNotVerified: the password was right but the address is not
	// verified and verification is required.
	ErrEmailNotVerified = apperr.New(http.StatusForbidden, apperr.CodeEmailNotVerified, "the email address is not verified yet")
	// ErrSessionNotFound: no session of the caller's with that id.
	ErrSessionNotFound = apperr.New(http.StatusNotFound, apperr.CodeNotFound, "no such session")
	// ErrUserNotFound: no user with that id or email (admin commands only;
	// public endpoints never reveal it).
	ErrUserNotFound = apperr.New(http.StatusNotFound, apperr.CodeNotFound, "user not found")
	// ErrForbidden: a valid credential that is not allowed here.
	ErrForbidden = apperr.New(http.StatusForbidden, apperr.CodeForbidden, "this credential is not allowed here")
	// ErrWrongPassword: the current password given with a change is wrong.
	ErrWrongPassword = apperr.New(http.StatusBadRequest, apperr.CodeInvalidGrant, "current password is wrong")
	// ErrInsufficientAuth: the change needs a recent sign-in (RFC 9470's
	// insufficient_user_authentication); the application sends the
	// person through a fresh sign-in and tries again.
	ErrInsufficientAuth = apperr.New(http.StatusUnauthorized, apperr.CodeInsufficientAuth, "this change needs a sign-in within the last 5 minutes; sign in again and retry")
	// ErrInvalidLink: a one-time link token or code is unknown, used,
	// expired, or no longer valid because the account's password or
	// address changed since it was sent. One error for all, so that
	// answers do not tell them apart.
	ErrInvalidLink = apperr.New(http.StatusBadRequest, apperr.CodeInvalidGrant, "the link or code is invalid or has expired; ask for a new one")
	// ErrPasswordlessOff: passwordless sign-in is not enabled.
	ErrPasswordlessOff = apperr.New(http.StatusBadRequest, apperr.CodeUnsupportedGrantType, "passwordless sign-in is not enabled on this server")
	// ErrBusy: password hashing is saturated; try again shortly.
	ErrBusy = password.ErrBusy

	// Social sign-in (federated.go, flow.go).
	// ErrIdentityLinkRequired: an account with the provider's address
	// exists, and the provider's word is not enough to join it.
	ErrIdentityLinkRequired = apperr.New(http.StatusConflict, apperr.CodeIdentityLinkRequired, "an account with this email already exists; sign in to it, then link this provider from your account")
	// ErrIdentityTaken: the provider's account is linked to another user.
	ErrIdentityTaken = apperr.New(http.StatusConflict, apperr.CodeIdentityTaken, "this provider account is already linked to another user")
	// ErrLastSignInMethod: removing the identity would leave the user no
	// way to sign in.
	ErrLastSignInMethod = apperr.New(http.StatusConflict, apperr.CodeLastSignInMethod, "this is the account's last way to sign in; set a password or link another provider first")
	// ErrIdentityNotFound: the user has no identity with that id.
	ErrIdentityNotFound = apperr.New(http.StatusNotFound, apperr.CodeNotFound, "no such identity")
	// ErrProviderEmail: a new person whose provider did not share a
	// verified email address; latch accounts need one.
	ErrProviderEmail = apperr.New(http.StatusForbidden, apperr.CodeEmailNotVerified, "the provider did not share a verified email address; sign up with a password, then link this provider from your account")
	// ErrAccountDisabled: the person is known but their account is
	// disabled.
	ErrAccountDisabled = apperr.New(http.StatusForbidden, apperr.CodeForbidden, "this account is disabled")
	// ErrUnknownProvider: no provider of that id is configured.
	ErrUnknownProvider = apperr.Invalid("provider", "no sign-in provider of that name")
	// ErrInvalidIDToken: an ID token that failed a check, or whose nonce
	// was used already.
	ErrInvalidIDToken = apperr.New(http.StatusBadRequest, apperr.CodeInvalidGrant, "the ID token is invalid, expired, not for this application, or its nonce was used already")
	// ErrFlowInvalid: a callback without a live flow of this browser
	// (no or an expired flow cookie, another state, a replay).
	ErrFlowInvalid = apperr.New(http.StatusBadRequest, apperr.CodeInvalidRequest, "this sign-in expired or was started in another browser; start again")
	// ErrProviderUnavailable: the provider could not be reached.
	ErrProviderUnavailable = apperr.New(http.StatusServiceUnavailable, apperr.CodeUnavailable, "the sign-in provider cannot be reached; try again later")
	// ErrProviderAnswer: the provider's answer did not pass a check.
	ErrProviderAnswer = apperr.New(http.StatusBadRequest, apperr.CodeInvalidGrant, "the sign-in provider's answer could not be checked; start again")

	// Second factors (factors.go, mfa.go, passkey.go).
	// ErrInvalidMFA: a wrong TOTP code, WebAuthn answer or recovery code.
	ErrInvalidMFA = apperr.New(http.StatusBadRequest, apperr.CodeInvalidMFA, "the code or security key answer is wrong or was already used")
	// ErrFactorNotFound: no factor of the caller's with that id.
	ErrFactorNotFound = apperr.New(http.StatusNotFound, apperr.CodeNotFound, "no such factor")
	// ErrNeedAAL2: the user has a second factor and the session did not
	// use it; the change needs a sign-in with it.
	ErrNeedAAL2 = apperr.New(http.StatusUnauthorized, apperr.CodeInsufficientAuth, "this change needs a sign-in with your second factor; sign in again with it and retry")
	// ErrPasskeysOff: no WebAuthn relying party is configured.
	ErrPasskeysOff = apperr.New(http.StatusBadRequest, apperr.CodeInvalidRequest, "passkeys are not enabled on this server")
)

// required answers invalid_request for the first of the fields, given
// as name, value pairs, that is empty; nil when all are given.
func required(nameValue ...string) error {
	for i := 0; i+1 < len(nameValue); i += 2 {
		if nameValue[i+1] == "" {
			return invalid(nameValue[i], "is required")
		}
	}
	return nil
}

// invalid is a malformed or missing input field.
func invalid(field, reason string) error { return apperr.Invalid(field, reason) }

// weakPassword lists every reason the password policy refused a password.
func weakPassword(reasons []password.Reason) error {
	e := apperr.New(http.StatusUnprocessableEntity, apperr.CodeWeakPassword, "the password does not meet the password policy; see reasons")
	for _, r := range reasons {
		e.Reasons = append(e.Reasons, apperr.Reason{Code: r.Code, Message: r.Message})
	}
	return e
}
