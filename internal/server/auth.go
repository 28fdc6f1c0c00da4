package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/latchauth/latch/internal/auth"
)

type principalKey struct{}

// A request that carried no credential at all: RFC 6750 §3.1 wants no
// error code in the challenge then, only the realm (see writeError).
var (
	errNoToken    = newError(http.StatusUnauthorized, codeInvalidToken, "an access token is required: send Authorization: Bearer <token>")
	errNoAdminKey = newError(http.StatusUnauthorized, codeInvalidToken, "the admin key is required: send Authorization: Bearer <admin key>")
)

func principal(ctx context.Context) auth.Principal {
	p, _ := ctx.Value(principalKey{}).(auth.Principal)
	return p
}

// handleDeleteOwn serves the DELETE of one of the signed-in user's
// things by its {id} (a session, a linked identity): remove refuses what
// is not theirs; 204 once it is gone.
func (s *Server) handleDeleteOwn(remove func(ctx context.Context, p auth.Principal, id string) error) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := remove(r.Context(), principal(r.Context()), r.PathValue("id")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// bearer extracts the token of an "Authorization: Bearer" header (RFC
// 6750 §2.1). Tokens in the query or the body are never read.
func bearer(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// requireUser lets through only a request with a valid access token of a
// live session and an enabled user.
func (s *Server) requireUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := bearer(r)
		if tok == "" {
			s.writeError(w, r, errNoToken)
			return
		}
		if s.auth.IsAdminKey(tok) {
			s.writeError(w, r, auth.ErrForbidden)
			return
		}
		p, err := s.auth.Authenticate(r.Context(), tok)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// requireAdmin lets through only the admin key. A user's valid access
// token is 403 forbidden; anything else 401.
func (s *Server) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.auth.AdminEnabled() {
			s.writeError(w, r, newError(http.StatusForbidden, codeForbidden, "admin endpoints are disabled; set LATCH_ADMIN_KEY to enable them"))
			return
		}
		tok := bearer(r)
		if s.auth.IsAdminKey(tok) {
			next.ServeHTTP(w, r)
			return
		}
		if tok != "" {
			if _, err := s.auth.Authenticate(r.Context(), tok); err == nil {
				s.writeError(w, r, newError(http.StatusForbidden, codeForbidden, "this endpoint needs the admin key, not a user token"))
				return
			}
		}
		s.writeError(w, r, errNoAdminKey)
	})
}
