package server

import (
	"net/http"

	"github.com/latchauth/latch/internal/auth"
)

// The email flows: verification, password reset, email change and the
// passwordless code. Every endpoint that takes an address answers the
// same whether or not it has an account.

// tokenRequest is the body of the endpoints that spend a one-time token.
type tokenRequest struct {
	Token string `json:"token"`
}

// tokenPasswordRequest is the body of the endpoints that spend a one-time
// token and set a password with it.
type tokenPasswordRequest struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

// emailRequest is the body of the endpoints that take only an address.
type emailRequest struct {
	Email string `json:"email"`
}

// noContent answers 204, not to be cached.
func noContent(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleVerify() http.Handler {
	return handleBody(s, jsonOrForm, func(w http.ResponseWriter, r *http.Request, req tokenPasswordRequest) error {
		t, err := s.auth.VerifyEmailLink(r.Context(), req.Token, req.Password, s.requester(r), true)
		if err != nil {
			return err
		}
		writeTokens(w, http.StatusOK, t)
		return nil
	})
}

// handleSendByEmail serves the endpoints that take only an address and
// send something to it: 202 with status, whatever the address.
func (s *Server) handleSendByEmail(status string, send func(s *auth.Service, r *http.Request, email string) error) http.Handler {
	return handleBody(s, jsonOrForm, func(w http.ResponseWriter, r *http.Request, req emailRequest) error {
		if err := send(s.auth, r, req.Email); err != nil {
			return err
		}
		encode(w, http.StatusAccepted, map[string]string{"status": status})
		return nil
	})
}

func (s *Server) handleResend() http.Handler {
	return s.handleSendByEmail("verification_sent", func(a *auth.Service, r *http.Request, email string) error {
		return a.ResendVerification(r.Context(), email, s.requester(r))
	})
}

func (s *Server) handleRecover() http.Handler {
	return s.handleSendByEmail("recovery_sent", func(a *auth.Service, r *http.Request, email string) error {
		return a.Recover(r.Context(), email, s.requester(r))
	})
}

func (s *Server) handleOTP() http.Handler {
	return s.handleSendByEmail("otp_sent", func(a *auth.Service, r *http.Request, email string) error {
		return a.RequestOTP(r.Context(), email, s.requester(r))
	})
}

func (s *Server) handleRecoverConfirm() http.Handler {
	return handleBody(s, jsonOrForm, func(w http.ResponseWriter, r *http.Request, req tokenPasswordRequest) error {
		if err := s.auth.ResetPassword(r.Context(), req.Token, req.Password, s.requester(r)); err != nil {
			return err
		}
		noContent(w)
		return nil
	})
}

func (s *Server) handleEmailConfirm() http.Handler {
	return handleBody(s, jsonOrForm, func(w http.ResponseWriter, r *http.Request, req tokenRequest) error {
		u, err := s.auth.ConfirmEmailChange(r.Context(), req.Token, s.requester(r))
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, newUserJSON(u))
		return nil
	})
}

// handleEmailRevert spends the undo link of an email-change notice: 204,
// and the account is back at the old address with no password and no
// session; a reset link is on its way there.
func (s *Server) handleEmailRevert() http.Handler {
	return handleBody(s, jsonOrForm, func(w http.ResponseWriter, r *http.Request, req tokenRequest) error {
		if err := s.auth.RevertEmailChange(r.Context(), req.Token, s.requester(r)); err != nil {
			return err
		}
		noContent(w)
		return nil
	})
}
