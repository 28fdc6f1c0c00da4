package server

import (
	"cmp"
	"github.com/latchauth/latch/internal/store"
	"net/http"
	"time"
)

func (s *Server) handleLogout() http.Handler {
	type request struct {
		Scope string `json:"scope"`
	}
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		var req request
		// The body is optional: no body means scope "local".
		if r.ContentLength != 0 || r.Header.Get("Content-Type") != "" {
			if err := s.decode(r, &req, jsonOnly); err != nil {
				return err
			}
		}
		if err := s.auth.Logout(r.Context(), principal(r.Context()), req.Scope); err != nil {
			return err
		}
		s.clearRefreshCookie(w)
		w.WriteHeader(http.StatusNoContent)
		return nil
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
	// Kind is "browser" (latch's own cookie session) or "app" (a
	// refresh-token chain); ParentID names the browser session an app
	// session was made from, "" if none.
	Kind     string `json:"kind"`
	ParentID string `json:"parent_id"`
}

func (s *Server) handleListSessions() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		list, err := s.auth.ListSessions(r.Context(), principal(r.Context()))
		if err != nil {
			return err
		}
		out := make([]sessionJSON, len(list))
		for i, x := range list {
			out[i] = sessionJSON{
				ID: x.ID, CreatedAt: x.CreatedAt, LastActiveAt: x.LastActiveAt, ExpiresAt: x.ExpiresAt,
				UserAgent: x.UserAgent, IP: x.IP, Current: x.Current,
				Kind: string(cmp.Or(x.Kind, store.SessionApp)), ParentID: x.ParentID,
			}
		}
		encode(w, http.StatusOK, map[string]any{"sessions": out})
		return nil
	})
}

func (s *Server) handleDeleteSession() http.Handler {
	return s.handleDeleteOwn(s.auth.RevokeSession)
}
