package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/latchauth/latch/internal/apperr"
	"github.com/latchauth/latch/internal/password"
	"github.com/latchauth/latch/internal/store"
)

// The codes of the v1 API, from the one list in apperr.
const (
	codeInvalidRequest       = apperr.CodeInvalidRequest
	codeUnsupportedGrantType = apperr.CodeUnsupportedGrantType
	codeInvalidToken         = apperr.CodeInvalidToken
	codeForbidden            = apperr.CodeForbidden
	codeNotFound             = apperr.CodeNotFound
	codeMethodNotAllowed     = apperr.CodeMethodNotAllowed
	codePayloadTooLarge      = apperr.CodePayloadTooLarge
	codeUnsupportedMediaType = apperr.CodeUnsupportedMediaType
	codeRateLimited          = apperr.CodeRateLimited
	codeInsufficientAuth     = apperr.CodeInsufficientAuth
)

// recentSignInSeconds is the max_age a 401 insufficient_user_authentication
// asks the application to send the person through (RFC 9470 §3).
const recentSignInSeconds = "300"

func newError(status int, code, desc string) *apperr.Error { return apperr.New(status, code, desc) }

func badRequest(format string, a ...any) *apperr.Error { return apperr.BadRequest(format, a...) }

// retryAfterUnavailable is what a 503 asks the client to wait.
const retryAfterUnavailable = 2 * time.Second

// toAPIError finds the answer of any error: the apperr.Error in its chain,
// or 503 for the infrastructure's own refusals (the hasher saturated, the
// database unreachable, the request out of time), or 500 for anything
// else, which the caller logs.
func toAPIError(err error) *apperr.Error {
	var ae *apperr.Error
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, password.ErrBusy):
		return apperr.Unavailable("the server is busy; retry shortly", retryAfterUnavailable, err)
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return apperr.Unavailable("the service is temporarily unavailable; retry shortly", retryAfterUnavailable, err)
	default:
		return apperr.Internal(err)
	}
}

type errorBody struct {
	Error       string          `json:"error"`
	Description string          `json:"error_description"`
	Reasons     []apperr.Reason `json:"reasons,omitempty"`
	RequestID   string          `json:"request_id,omitempty"`
}

// writeError is the one place an error becomes a response. 5xx are logged
// once here, at Error, with the request id the client also sees; 4xx at
// Debug, since they are the client's business.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if writeMFARequired(w, err) {
		return
	}
	ae := toAPIError(err)
	body := errorBody{Error: ae.Code, Description: ae.Message, Reasons: ae.Reasons}
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
		w.Header().Set("WWW-Authenticate", challenge(ae))
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

// handlerFunc is a handler that returns its error, for the one writer.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle adapts a handlerFunc: an error it returns is answered by
// writeError, the one place an error becomes a response.
func (s *Server) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// challenge is the WWW-Authenticate of a 401 (RFC 6750 §3; RFC 9470 §3).
func challenge(ae *apperr.Error) string {
	switch ae {
	case errNoToken:
		return `Bearer realm="latch"`
	case errNoAdminKey:
		return `Bearer realm="latch admin"`
	}
	c := `Bearer error="` + ae.Code + `", error_description="` + ae.Message + `"`
	if ae.Code == codeInsufficientAuth {
		c += ", max_age=" + recentSignInSeconds
	}
	return c
}
