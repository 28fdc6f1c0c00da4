package server

import (
	"net/http"
	"time"

	"github.com/latchauth/latch/internal/apperr"
)

// limitAddress turns away a client address that exceeds its request rate
// on a credential endpoint, before the request costs a query or a hash.
func (s *Server) limitAddress(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.addressAllowed(w, r) {
			next.ServeHTTP(w, r)
		}
	})
}

// addressAllowed takes a token from the client address's bucket, or
// answers 429 and reports false.
func (s *Server) addressAllowed(w http.ResponseWriter, r *http.Request) bool {
	if s.buckets == nil {
		return true
	}
	ok, wait := s.buckets.Allow(clientKey(r.Context()))
	if !ok {
		s.log.WarnContext(r.Context(), "address rate exceeded", "event", "address.throttled", "ip", clientIP(r.Context()))
		e := apperr.Throttled(max(wait, time.Second))
		e.Message = "too many requests from this address; retry later"
		s.writeError(w, r, e)
	}
	return ok
}
