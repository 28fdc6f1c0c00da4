package auth

import (
	"errors"
	"time"

	"github.com/latchauth/latch/internal/password"
)

// Errors the domain returns. internal/server maps each to one HTTP status
// and error code; match them with errors.Is / errors.As.
var (
	// ErrInvalidCredentials: wrong email or password, or a disabled
	// account; one error for all so that answers do not tell them apart.
	ErrInvalidCredentials = errors.New("invalid email or password")
	// ErrInvalidGrant: the refresh token is unknown, expired, revoked or
	// re-used.
	ErrInvalidGrant = errors.New("refresh token is invalid, expired or revoked")
	// ErrInvalidToken: the access token is missing, malformed, expired, or
	// its session has ended.
	ErrInvalidToken = errors.New("access token is invalid, expired or revoked")
	// ErrEmailTaken: signup of an email that has an account, where that
	// cannot be hidden (verification not required).
	ErrEmailTaken = errors.New("an account with this email already exists")
	// ErrEmailNotVerified: the password was right but the address is not
	// verified and verification is required.
	ErrEmailNotVerified = errors.New("email address is not verified")
	// ErrSessionNotFound: no session of the caller's with that id.
	ErrSessionNotFound = errors.New("session not found")
	// ErrUserNotFound: no user with that id or email (admin commands only;
	// public endpoints never reveal it).
	ErrUserNotFound = errors.New("user not found")
	// ErrForbidden: a valid credential that is not allowed here.
	ErrForbidden = errors.New("not allowed")
	// ErrBusy: password hashing is saturated; try again shortly.
	ErrBusy = password.ErrBusy
)

// InvalidRequestError is a malformed or missing input field.
type InvalidRequestError struct {
	Field  string
	Reason string
}

func (e *InvalidRequestError) Error() string { return e.Field + ": " + e.Reason }

func invalid(field, reason string) error { return &InvalidRequestError{Field: field, Reason: reason} }

// WeakPasswordError lists every reason the password policy refused a
// password.
type WeakPasswordError struct{ Reasons []password.Reason }

func (e *WeakPasswordError) Error() string { return "password refused by the policy" }

// ThrottledError says the caller must wait before trying again.
type ThrottledError struct{ RetryAfter time.Duration }

func (e *ThrottledError) Error() string { return "too many attempts; retry later" }
