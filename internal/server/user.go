package server

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/store"
)

// userJSON is a user as the API shows it: no hash, no internal flags.
type userJSON struct {
	ID            string          `json:"id"`
	Email         string          `json:"email"`
	EmailVerified bool            `json:"email_verified"`
	Metadata      json.RawMessage `json:"metadata"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
	LastSignInAt  *time.Time      `json:"last_sign_in_at"`
}

func newUserJSON(u store.User) userJSON {
	out := userJSON{
		ID:            u.ID,
		Email:         u.Email,
		EmailVerified: u.EmailVerified,
		Metadata:      u.Metadata,
		CreatedAt:     u.CreatedAt,
		UpdatedAt:     u.UpdatedAt,
	}
	if len(out.Metadata) == 0 {
		out.Metadata = json.RawMessage("{}")
	}
	if !u.LastSignInAt.IsZero() {
		t := u.LastSignInAt
		out.LastSignInAt = &t
	}
	return out
}

func (s *Server) handlePatchUser() http.Handler {
	type request struct {
		Metadata        json.RawMessage `json:"metadata"`
		Password        *string         `json:"password"`
		CurrentPassword *string         `json:"current_password"`
		Email           *string         `json:"email"`
	}
	return handleBody(s, jsonOnly, func(w http.ResponseWriter, r *http.Request, req request) error {
		u, err := s.auth.UpdateUser(r.Context(), principal(r.Context()), auth.UserUpdate{
			Metadata:        req.Metadata,
			Password:        req.Password,
			CurrentPassword: req.CurrentPassword,
			Email:           req.Email,
		})
		if err != nil {
			return err
		}
		if req.Email != nil {
			// The address changes only when the link sent to it is
			// followed: 202, and the user as it stands.
			encode(w, http.StatusAccepted, newUserJSON(u))
			return nil
		}
		encode(w, http.StatusOK, newUserJSON(u))
		return nil
	})
}
