package verify

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
)

type claimsKey struct{}

// ContextWithClaims returns a copy of ctx carrying c, as Middleware does.
// Use it to test handlers that call ClaimsFrom without signing tokens.
func ContextWithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// ClaimsFrom returns the claims that Middleware verified for this request.
// ok is false when the request did not pass through Middleware.
func ClaimsFrom(ctx context.Context) (c *Claims, ok bool) {
	c, ok = ctx.Value(claimsKey{}).(*Claims)
	return c, ok && c != nil
}

// Middleware lets through to next only requests that carry a valid
// access token in an Authorization: Bearer header (RFC 6750 §2.1; never a
// query parameter or form field, which end up in logs). next finds the
// claims with ClaimsFrom. Otherwise it answers with a JSON body
// {"error": code, "error_description": sentence}:
//
//   - no Bearer credentials: 401 with WWW-Authenticate: Bearer realm="..."
//     and no error code in the challenge (RFC 6750 §3.1);
//   - several Authorization headers, or "Bearer" with no token: 400
//     invalid_request;
//   - a refused token: 401 invalid_token, with
//     WWW-Authenticate: Bearer realm="...", error="invalid_token",
//     error_description="..." (RFC 6750 §3);
//   - ErrUnavailable from Verify: 503 unavailable with Retry-After.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auths := r.Header.Values("Authorization")
		if len(auths) > 1 {
			writeError(w, http.StatusBadRequest, "invalid_request", "the request has more than one Authorization header", "")
			return
		}
		var scheme, token string
		if len(auths) == 1 {
			scheme, token, _ = strings.Cut(auths[0], " ")
		}
		if !strings.EqualFold(scheme, "Bearer") {
			writeError(w, http.StatusUnauthorized, "invalid_token", "the request has no Bearer access token",
				`Bearer realm="`+v.realm+`"`)
			return
		}
		token = strings.TrimLeft(token, " ")
		if token == "" {
			writeError(w, http.StatusBadRequest, "invalid_request", "the Authorization header has no token after Bearer", "")
			return
		}
		c, err := v.Verify(r.Context(), token)
		if err != nil {
			v.log.DebugContext(r.Context(), "verify: access token refused", "err", err)
			var te *tokenError
			switch {
			case errors.As(err, &te):
				writeError(w, http.StatusUnauthorized, "invalid_token", te.reason,
					`Bearer realm="`+v.realm+`", error="invalid_token", error_description="`+te.reason+`"`)
			default:
				w.Header().Set("Retry-After", strconv.Itoa(int(v.minRefresh.Seconds()+0.999)))
				writeError(w, http.StatusServiceUnavailable, "unavailable", "the access token cannot be checked now; try again later", "")
			}
			return
		}
		next.ServeHTTP(w, r.WithContext(ContextWithClaims(r.Context(), c)))
	})
}

// RequireScope returns middleware that lets through only requests whose
// verified token (see Middleware, which must run first) has every one of
// scopes in its scope claim. Otherwise it answers 403 insufficient_scope
// with WWW-Authenticate: Bearer error="insufficient_scope", naming the
// scopes needed (RFC 6750 §3.1). It panics if scopes is empty or holds a
// string that is not a scope token (RFC 6749 §3.3), as a mistake in the
// program.
func RequireScope(scopes ...string) func(http.Handler) http.Handler {
	if len(scopes) == 0 {
		panic("verify.RequireScope: no scope")
	}
	for _, s := range scopes {
		if !scopeToken(s) {
			panic("verify.RequireScope: " + strconv.Quote(s) + " is not a scope token")
		}
	}
	need := strings.Join(scopes, " ")
	return requireClaims(func(w http.ResponseWriter, c *Claims) bool {
		for _, s := range scopes {
			if !c.HasScope(s) {
				desc := "the access token lacks scope " + need
				writeError(w, http.StatusForbidden, "insufficient_scope", desc,
					`Bearer error="insufficient_scope", error_description="`+desc+`", scope="`+need+`"`)
				return false
			}
		}
		return true
	})
}

// RequireAAL returns middleware that lets through only requests whose
// verified token (see Middleware, which must run first) has an aal claim
// of at least level: "aal1", "aal2" or "aal3" (NIST SP 800-63B). Otherwise
// it asks for a stronger sign-in as RFC 9470 §3 says: 401
// insufficient_user_authentication, with WWW-Authenticate: Bearer
// error="insufficient_user_authentication". A client that understands the
// challenge signs the user in again with a second factor; one that does
// not sees a 401. It panics if level is not one of the three, as a
// mistake in the program.
func RequireAAL(level string) func(http.Handler) http.Handler {
	need, ok := aal(level)
	if !ok {
		panic("verify.RequireAAL: " + strconv.Quote(level) + " is not aal1, aal2 or aal3")
	}
	desc := "the access token's authentication assurance level is below " + level
	return requireClaims(func(w http.ResponseWriter, c *Claims) bool {
		if have, ok := aal(c.AAL); !ok || have < need {
			writeError(w, http.StatusUnauthorized, "insufficient_user_authentication", desc,
				`Bearer error="insufficient_user_authentication", error_description="`+desc+`"`)
			return false
		}
		return true
	})
}

// requireClaims returns middleware that passes a request on when allow
// accepts the claims Middleware verified; allow writes the refusal when it
// does not. A request that Middleware did not see is refused with a 500,
// as a mistake in the program.
func requireClaims(allow func(w http.ResponseWriter, c *Claims) bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, ok := ClaimsFrom(r.Context())
			if !ok {
				writeNoClaims(w)
				return
			}
			if allow(w, c) {
				next.ServeHTTP(w, r)
			}
		})
	}
}

// aal reads "aal1" to "aal3" as 1 to 3.
func aal(s string) (int, bool) {
	if len(s) == 4 && s[:3] == "aal" && '1' <= s[3] && s[3] <= '3' {
		return int(s[3] - '0'), true
	}
	return 0, false
}

// scopeToken reports whether s is a scope token (RFC 6749 §3.3), which
// also makes it safe inside a quoted WWW-Authenticate parameter.
func scopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// quotable reports whether s can go between the quotes of a
// WWW-Authenticate parameter without escaping (RFC 6750 §3).
func quotable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// writeNoClaims answers a request that reached RequireScope or RequireAAL
// without Middleware: the program is wired wrong, so it fails closed.
func writeNoClaims(w http.ResponseWriter) {
	writeError(w, http.StatusInternalServerError, "internal_error", "the server checked no access token for this route", "")
}

// writeError writes an error response in latch's format.
func writeError(w http.ResponseWriter, status int, code, desc, challenge string) {
	h := w.Header()
	if challenge != "" {
		h.Set("WWW-Authenticate", challenge)
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	body, _ := json.Marshal(struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{code, desc})
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
