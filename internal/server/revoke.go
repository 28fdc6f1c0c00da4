package server

import (
	"net/http"
	"strings"
)

// tokenHintRequest is the body of RFC 7009 revocation and RFC 7662
// introspection: a token and an optional hint of its type, which latch
// does not need.
type tokenHintRequest struct {
	Token         string `json:"token"`
	TokenTypeHint string `json:"token_type_hint"`
}

// handleTokenHint serves an endpoint whose body is a tokenHintRequest:
// it decodes it, requires the token and hands it to serve.
func (s *Server) handleTokenHint(serve func(w http.ResponseWriter, r *http.Request, token string) error) http.Handler {
	return handleBody(s, jsonOrForm, func(w http.ResponseWriter, r *http.Request, req tokenHintRequest) error {
		if err := required("token", req.Token); err != nil {
			return err
		}
		return serve(w, r, req.Token)
	})
}

// handleRevoke implements RFC 7009. It answers 200 for an unknown token
// too (§2.2), so revocation tells nothing about which tokens exist.
func (s *Server) handleRevoke() http.Handler {
	return s.handleTokenHint(func(w http.ResponseWriter, r *http.Request, token string) error {
		if err := s.auth.RevokeToken(r.Context(), token); err != nil {
			return err
		}
		encode(w, http.StatusOK, struct{}{})
		return nil
	})
}

// introspectionJSON is an RFC 7662 §2.2 answer. Only "active" is present
// for an inactive token.
type introspectionJSON struct {
	Active        bool     `json:"active"`
	TokenType     string   `json:"token_type,omitempty"`
	ClientID      string   `json:"client_id,omitempty"`
	Scope         string   `json:"scope,omitempty"`
	Subject       string   `json:"sub,omitempty"`
	Username      string   `json:"username,omitempty"`
	Audience      []string `json:"aud,omitempty"`
	Issuer        string   `json:"iss,omitempty"`
	ExpiresAt     int64    `json:"exp,omitempty"`
	IssuedAt      int64    `json:"iat,omitempty"`
	ID            string   `json:"jti,omitempty"`
	SessionID     string   `json:"sid,omitempty"`
	AMR           []string `json:"amr,omitempty"`
	AAL           string   `json:"aal,omitempty"`
	Email         string   `json:"email,omitempty"`
	EmailVerified *bool    `json:"email_verified,omitempty"`
}

func (s *Server) handleIntrospect() http.Handler {
	return s.handleTokenHint(func(w http.ResponseWriter, r *http.Request, token string) error {
		in, err := s.auth.Introspect(r.Context(), token)
		if err != nil {
			return err
		}
		if !in.Active {
			encode(w, http.StatusOK, introspectionJSON{})
			return nil
		}
		c := in.Claims
		out := introspectionJSON{
			Active:    true,
			TokenType: in.TokenType,
			ClientID:  c.ClientID,
			Scope:     c.Scope,
			Subject:   c.Subject,
			Username:  c.Email,
			Audience:  c.Audience,
			Issuer:    c.Issuer,
			ExpiresAt: c.ExpiresAt.Unix(),
			IssuedAt:  c.IssuedAt.Unix(),
			ID:        c.ID,
			SessionID: c.SessionID,
			AMR:       c.AMR,
			AAL:       c.AAL,
		}
		if in.TokenType == "access_token" {
			out.Email = c.Email
			v := c.EmailVerified
			out.EmailVerified = &v
		}
		if out.Issuer == "" {
			out.Issuer = s.cfg.HTTP.PublicURL
		}
		if out.ClientID == "" {
			out.ClientID = "latch"
		}
		encode(w, http.StatusOK, out)
		return nil
	})
}

// endpoint is an absolute URL of this server's path.
func (s *Server) endpoint(path string) string {
	return strings.TrimRight(s.cfg.HTTP.PublicURL, "/") + path
}
