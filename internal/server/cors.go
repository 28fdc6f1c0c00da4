package server

import (
	"net/http"
	"strconv"
	"strings"
)

// cors answers preflight requests and marks answers readable by the
// origins of LATCH_CORS_ORIGINS, echoing the exact origin (never "*", and
// never "null"). The API authenticates with bearer tokens; the one cookie
// it reads is the refresh cookie of /v1/token (refreshcookie.go), so only
// /v1/token and /v1/logout answer those origins with
// Access-Control-Allow-Credentials. It reports whether it answered the
// request itself.
func (s *Server) cors(w http.ResponseWriter, r *http.Request) bool {
	if len(s.cfg.HTTP.CORSOrigins) == 0 {
		return false
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	allowed := origin != "" && s.allowedOrigin(origin)
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	if preflight {
		h.Add("Vary", "Access-Control-Request-Method")
		h.Add("Vary", "Access-Control-Request-Headers")
		if !allowed {
			s.writeError(w, r, newError(http.StatusForbidden, codeForbidden, "this origin is not allowed"))
			return true
		}
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Methods", "GET, POST, PATCH, DELETE")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-Id")
		h.Set("Access-Control-Max-Age", strconv.Itoa(600))
		credentials(h, r)
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	if allowed {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Expose-Headers", "Retry-After, WWW-Authenticate, X-Request-Id")
		credentials(h, r)
	}
	return false
}

func (s *Server) allowedOrigin(origin string) bool {
	origin = strings.ToLower(origin)
	for _, o := range s.cfg.HTTP.CORSOrigins {
		if o == origin {
			return true
		}
	}
	return false
}

// credentials lets an allowed origin send and receive the refresh cookie
// on the two endpoints that use it.
func credentials(h http.Header, r *http.Request) {
	if r.URL.Path == "/v1/token" || r.URL.Path == "/v1/logout" {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
}
