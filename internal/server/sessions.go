package server

import (
	"net/http"
	"time"
)

func (s *Server) handleLogout() http.Handler {
	type request struct {
		Scope string `json:"scope"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req request
		// The body is optional: no body means scope "local".
		if r.ContentLength != 0 || r.Header.Get("Content-Type") != "" {
			if err := s.decode(r, &req, jsonOnly); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		if err := s.auth.Logout(r.Context(), principal(r.Context()), req.Scope); err != nil {
			s.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

type sessionJSON struct {
	ID           string    `json:"id"`
	CreatedAt    time.Time `json:"created_at"`
	LastActiveAt time.Time `json:"last_active_at"`
	ExpiresAt    time.Time `json:"expires_at"`
	UserAgent    string    `json:"user_agent"`
	IP           string    `json:"ip"`
	Current      bool      `json:"current"`
}

func (s *Server) handleListSessions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		list, err := s.auth.ListSessions(r.Context(), principal(r.Context()))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		out := make([]sessionJSON, len(list))
		for i, x := range list {
			out[i] = sessionJSON{
				ID: x.ID, CreatedAt: x.CreatedAt, LastActiveAt: x.LastActiveAt, ExpiresAt: x.ExpiresAt,
				UserAgent: x.UserAgent, IP: x.IP, Current: x.Current,
			}
		}
		encode(w, http.StatusOK, map[string]any{"sessions": out})
	})
}

func (s *Server) handleDeleteSession() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.auth.RevokeSession(r.Context(), principal(r.Context()), r.PathValue("id")); err != nil {
			s.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
