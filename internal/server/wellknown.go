package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/latchauth/latch/internal/token"
)

// jwksCacheControl lets caches keep the JWKS for token.JWKSMaxAge, which
// is shorter than the time a next key is published before it signs, so
// every cache knows a key before it meets a token signed with it.
var jwksCacheControl = "public, max-age=" + strconv.Itoa(int(token.JWKSMaxAge/time.Second))

func (s *Server) handleJWKS() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", jwksCacheControl)
		w.Header().Del("Pragma")
		_, _ = w.Write(s.keys.JWKS())
	})
}

// handleDiscovery serves RFC 8414 authorization-server metadata (also at
// the OpenID path, which most clients probe first).
func (s *Server) handleDiscovery() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		doc := map[string]any{
			"issuer":                           s.cfg.HTTP.PublicURL,
			"jwks_uri":                         s.endpoint("/.well-known/jwks.json"),
			"token_endpoint":                   s.endpoint("/v1/token"),
			"revocation_endpoint":              s.endpoint("/v1/revoke"),
			"grant_types_supported":            s.grantTypeList(),
			"authorization_endpoint":           s.endpoint("/v1/authorize"),
			"response_types_supported":         []string{"code"},
			"response_modes_supported":         []string{"query"},
			"code_challenge_methods_supported": []string{"S256"},
			"authorization_response_iss_parameter_supported": true,
			"token_endpoint_auth_methods_supported":          []string{"none"},
			"revocation_endpoint_auth_methods_supported":     []string{"none"},
			"access_token_signing_alg_values_supported":      s.keys.Algorithms(),
			"userinfo_endpoint":                              s.endpoint("/v1/user"),
		}
		if s.auth.AdminEnabled() {
			doc["introspection_endpoint"] = s.endpoint("/v1/introspect")
			doc["introspection_endpoint_auth_methods_supported"] = []string{"bearer"}
		}
		w.Header().Set("Cache-Control", jwksCacheControl)
		w.Header().Del("Pragma")
		encode(w, http.StatusOK, doc)
	})
}

func (s *Server) handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		encode(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// handleReadyz says whether this instance can serve: database reachable
// and keys loaded.
func (s *Server) handleReadyz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.db.Ping(ctx); err != nil {
			s.log.WarnContext(ctx, "not ready: database", "error", err)
			w.Header().Set("Retry-After", "2")
			encode(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "database unreachable"})
			return
		}
		if !s.keys.Ready() {
			encode(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "signing keys not loaded"})
			return
		}
		encode(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}
