package apperr

import (
	"fmt"
	"net/http"
	"time"
)

// Error is an error with its answer. Message is safe to show a client:
// nothing internal goes into it; the cause (Unwrap) is for the log.
type Error struct {
	Status  int    // HTTP status
	Code    string // one of the Code constants
	Message string // a sentence for a human, safe for the client
	// Field names the input a CodeInvalidRequest is about, if one.
	Field string
	// RetryAfter, when set, is how long the client should wait (429, 503).
	RetryAfter time.Duration
	// Reasons list why the password policy refused a password
	// (CodeWeakPassword).
	Reasons []Reason
	cause   error
}

// Reason is one reason the password policy refused a password.
type Reason struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// New returns an Error. Errors made once and returned as they are
// (sentinels) are matched with errors.Is, by identity.
func New(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

// Error is the message, and the cause after it when there is one.
func (e *Error) Error() string {
	if e.cause != nil {
		return e.Message + ": " + e.cause.Error()
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.cause }

// Invalid is a 400 invalid_request about one input field: "field reason".
func Invalid(field, reason string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Message: field + " " + reason, Field: field}
}

// BadRequest is a 400 invalid_request with a formatted message.
func BadRequest(format string, a ...any) *Error {
	return New(http.StatusBadRequest, CodeInvalidRequest, fmt.Sprintf(format, a...))
}

// Throttled is a 429 rate_limited that asks the client to wait.
func Throttled(wait time.Duration) *Error {
	return &Error{Status: http.StatusTooManyRequests, Code: CodeRateLimited, Message: "too many attempts; retry later", RetryAfter: wait}
}

// Unavailable is a 503 unavailable caused by cause, to retry after wait.
func Unavailable(message string, wait time.Duration, cause error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: message, RetryAfter: wait, cause: cause}
}

// Internal is a 500 internal_error caused by cause.
func Internal(cause error) *Error {
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error", cause: cause}
}
