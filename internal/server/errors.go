package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/password"
	"github.com/latchauth/latch/internal/store"
)

// Error codes of the v1 API. They are part of the contract: never rename
// one; add new ones.
const (
	codeInvalidRequest       = "invalid_request"
	codeUnsupportedGrantType = "unsupported_grant_type"
	codeInvalidGrant         = "invalid_grant"
	codeInvalidToken         = "invalid_token"
	codeForbidden            = "forbidden"
	codeEmailNotVerified     = "email_not_verified"
	codeNotFound             = "not_found"
	codeMethodNotAllowed     = "method_not_allowed"
	codeEmailTaken           = "email_taken"
	codePayloadTooLarge      = "payload_too_large"
	codeUnsupportedMediaType = "unsupported_media_type"
	codeWeakPassword         = "weak_password"
	codeRateLimited          = "rate_limited"
	codeUnavailable          = "unavailable"
	codeInternal             = "internal_error"
	// codeInsufficientAuth is RFC 9470's: the change needs a recent
	// sign-in.
	codeInsufficientAuth = "insufficient_user_authentication"
)

// recentSignInSeconds is the max_age a 401 insufficient_user_authentication
// asks the application to send the person through (RFC 9470 §3).
const recentSignInSeconds = "300"

// apiError is an error with its HTTP answer. Description is safe to show a
// client; nothing internal goes into it.
type apiError struct {
	Status      int
	Code        string
	Description string
	Reasons     []password.Reason
	RetryAfter  time.Duration
}

func (e *apiError) Error() string { return e.Code + ": " + e.Description }

func newError(status int, code, desc string) *apiError {
	return &apiError{Status: status, Code: code, Description: desc}
}

func badRequest(format string, a ...any) *apiError {
	return newError(http.StatusBadRequest, codeInvalidRequest, fmt.Sprintf(format, a...))
}

// retryAfterUnavailable is what a 503 asks the client to wait.
const retryAfterUnavailable = 2 * time.Second

// toAPIError maps any error to its answer. Unknown errors become 500
// internal_error; the caller logs those.
func toAPIError(err error) *apiError {
	var ae *apiError
	var inv *auth.InvalidRequestError
	var weak *auth.WeakPasswordError
	var thr *auth.ThrottledError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &inv):
		return badRequest("%s %s", inv.Field, inv.Reason)
	case errors.As(err, &weak):
		return &apiError{Status: http.StatusUnprocessableEntity, Code: codeWeakPassword, Description: "the password does not meet the password policy; see reasons", Reasons: weak.Reasons}
	case errors.As(err, &thr):
		return &apiError{Status: http.StatusTooManyRequests, Code: codeRateLimited, Description: "too many attempts; retry later", RetryAfter: thr.RetryAfter}
	case errors.Is(err, auth.ErrInvalidCredentials):
		return newError(http.StatusBadRequest, codeInvalidGrant, "invalid email or password")
	case errors.Is(err, auth.ErrWrongPassword):
		return newError(http.StatusBadRequest, codeInvalidGrant, "current password is wrong")
	case errors.Is(err, auth.ErrInvalidLink):
		return newError(http.StatusBadRequest, codeInvalidGrant, "the link or code is invalid or has expired; ask for a new one")
	case errors.Is(err, auth.ErrPasswordlessOff):
		return newError(http.StatusBadRequest, codeUnsupportedGrantType, "passwordless sign-in is not enabled on this server")
	case errors.Is(err, auth.ErrInvalidGrant):
		return newError(http.StatusBadRequest, codeInvalidGrant, "refresh token is invalid, expired or revoked")
	case errors.Is(err, auth.ErrInvalidToken):
		return newError(http.StatusUnauthorized, codeInvalidToken, "access token is missing, invalid, expired or revoked")
	case errors.Is(err, auth.ErrInsufficientAuth):
		return newError(http.StatusUnauthorized, codeInsufficientAuth, "this change needs a sign-in within the last 5 minutes; sign in again and retry")
	case errors.Is(err, auth.ErrEmailTaken):
		return newError(http.StatusConflict, codeEmailTaken, "an account with this email already exists")
	case errors.Is(err, auth.ErrEmailNotVerified):
		return newError(http.StatusForbidden, codeEmailNotVerified, "the email address is not verified yet")
	case errors.Is(err, auth.ErrForbidden):
		return newError(http.StatusForbidden, codeForbidden, "this credential is not allowed here")
	case errors.Is(err, auth.ErrSessionNotFound):
		return newError(http.StatusNotFound, codeNotFound, "no such session")
	case errors.Is(err, password.ErrBusy):
		return &apiError{Status: http.StatusServiceUnavailable, Code: codeUnavailable, Description: "the server is busy; retry shortly", RetryAfter: retryAfterUnavailable}
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return &apiError{Status: http.StatusServiceUnavailable, Code: codeUnavailable, Description: "the service is temporarily unavailable; retry shortly", RetryAfter: retryAfterUnavailable}
	default:
		return newError(http.StatusInternalServerError, codeInternal, "internal error")
	}
}

type errorBody struct {
	Error       string            `json:"error"`
	Description string            `json:"error_description"`
	Reasons     []password.Reason `json:"reasons,omitempty"`
	RequestID   string            `json:"request_id,omitempty"`
}

// writeError is the one place an error becomes a response. 5xx are logged
// once here, at Error, with the request id the client also sees; 4xx at
// Debug, since they are the client's business.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := toAPIError(err)
	body := errorBody{Error: ae.Code, Description: ae.Description, Reasons: ae.Reasons}
	switch {
	case ae.Status >= 500:
		body.RequestID = requestID(r.Context())
		s.log.Log(r.Context(), levelFor(ae.Status), "request failed", "status", ae.Status, "error", err)
	default:
		s.log.DebugContext(r.Context(), "request refused", "status", ae.Status, "code", ae.Code, "error", err)
	}
	if ae.RetryAfter > 0 {
		secs := int64((ae.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	if ae.Status == http.StatusUnauthorized {
		challenge := `Bearer error="` + ae.Code + `", error_description="` + ae.Description + `"`
		if ae.Code == codeInsufficientAuth {
			challenge += ", max_age=" + recentSignInSeconds
		}
		w.Header().Set("WWW-Authenticate", challenge)
	}
	encode(w, ae.Status, body)
}

// levelFor is the log level of a 5xx: Warn for 503 (the database or the
// hasher is saturated, expected under faults), Error otherwise.
func levelFor(status int) slog.Level {
	if status == http.StatusServiceUnavailable {
		return slog.LevelWarn
	}
	return slog.LevelError
}
