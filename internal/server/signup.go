package server

import (
	"encoding/json"
	"net/http"

	"github.com/latchauth/latch/internal/auth"
)

func (s *Server) handleSignup() http.Handler {
	type request struct {
		Email    string          `json:"email"`
		Password string          `json:"password"`
		Metadata json.RawMessage `json:"metadata"`
	}
	return handleBody(s, jsonOnly, func(w http.ResponseWriter, r *http.Request, req request) error {
		res, err := s.auth.Signup(r.Context(), auth.SignupInput{
			Email: req.Email, Password: req.Password, Metadata: req.Metadata, Requester: s.requester(r),
		})
		if err != nil {
			return err
		}
		if res.VerificationSent {
			encode(w, http.StatusAccepted, map[string]string{"status": "verification_sent"})
			return nil
		}
		writeTokens(w, http.StatusCreated, res.Tokens)
		return nil
	})
}
