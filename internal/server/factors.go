package server

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// Second factors and passkeys: the caller's factors (GET, POST and
// DELETE /v1/factors…), the WebAuthn challenge of a sign-in's second
// step (POST /v1/factors/{id}/challenge), and the challenge of a passkey
// sign-in (POST /v1/passkeys/challenge). The grants that finish them
// (mfa, passkey) are in token.go.

type factorJSON struct {
	ID         string     `json:"id"`
	Type       string     `json:"type"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	// Remaining: unused recovery codes (type recovery only).
	Remaining *int `json:"remaining,omitempty"`
	// Synced: a passkey that the platform copies between devices
	// (webauthn only).
	Synced *bool `json:"synced,omitempty"`
}

func newFactorJSON(f auth.FactorInfo) factorJSON {
	out := factorJSON{ID: f.ID, Type: string(f.Type), Name: f.Name, CreatedAt: f.CreatedAt}
	if !f.LastUsedAt.IsZero() {
		t := f.LastUsedAt
		out.LastUsedAt = &t
	}
	switch f.Type {
	case "recovery":
		n := f.Remaining
		out.Remaining = &n
	case "webauthn":
		b := f.Synced
		out.Synced = &b
	}
	return out
}

func factorsJSON(fs []auth.FactorInfo) []factorJSON {
	out := make([]factorJSON, len(fs))
	for i, f := range fs {
		out[i] = newFactorJSON(f)
	}
	return out
}

func (s *Server) handleListFactors() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		fs, err := s.auth.ListFactors(r.Context(), principal(r.Context()))
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, map[string]any{"factors": factorsJSON(fs)})
		return nil
	})
}

// handleEnrolFactor is POST /v1/factors: a pending factor and what the
// person needs to finish it.
func (s *Server) handleEnrolFactor() http.Handler {
	type request struct {
		Type            string `json:"type"`
		Name            string `json:"name"`
		CurrentPassword string `json:"current_password"`
	}
	return handleBody(s, jsonOnly, func(w http.ResponseWriter, r *http.Request, req request) error {
		e, err := s.auth.EnrolFactor(r.Context(), principal(r.Context()), req.Type, req.Name, req.CurrentPassword)
		if err != nil {
			return err
		}
		encode(w, http.StatusCreated, struct {
			factorJSON
			Secret     string          `json:"secret,omitempty"`
			OTPAuthURI string          `json:"otpauth_uri,omitempty"`
			QRSVG      string          `json:"qr_svg,omitempty"`
			Options    json.RawMessage `json:"options,omitempty"`
		}{newFactorJSON(e.Factor), e.Secret, e.OTPAuthURI, e.QRSVG, e.Options})
		return nil
	})
}

// handleVerifyFactor is POST /v1/factors/{id}/verify: a TOTP code or a
// WebAuthn registration response activates the pending factor.
func (s *Server) handleVerifyFactor() http.Handler {
	type request struct {
		Code       string          `json:"code"`
		Credential json.RawMessage `json:"credential"`
	}
	return handleBody(s, jsonOnly, func(w http.ResponseWriter, r *http.Request, req request) error {
		v, err := s.auth.VerifyFactor(r.Context(), principal(r.Context()), r.PathValue("id"), req.Code, req.Credential)
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, struct {
			factorJSON
			RecoveryCodes []string `json:"recovery_codes,omitempty"`
		}{newFactorJSON(v.Factor), v.RecoveryCodes})
		return nil
	})
}

// handleFactorAction is POST /v1/factors/{id}: only recovery_codes
// answers there.
func (s *Server) handleFactorAction() http.Handler {
	codes := s.handleRecoveryCodes()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != "recovery_codes" {
			w.Header().Set("Allow", "DELETE")
			s.writeError(w, r, newError(http.StatusMethodNotAllowed, codeMethodNotAllowed, "method POST is not allowed here; allowed: DELETE"))
			return
		}
		codes.ServeHTTP(w, r)
	})
}

// handleRecoveryCodes is POST /v1/factors/recovery_codes: ten new codes,
// shown once; the old ones stop working.
func (s *Server) handleRecoveryCodes() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		current, err := s.currentPassword(r)
		if err != nil {
			return err
		}
		codes, err := s.auth.NewRecoveryCodes(r.Context(), principal(r.Context()), current)
		if err != nil {
			return err
		}
		encode(w, http.StatusCreated, map[string][]string{"codes": codes})
		return nil
	})
}

func (s *Server) handleDeleteFactor() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		current, err := s.currentPassword(r)
		if err != nil {
			return err
		}
		if err := s.auth.RemoveFactor(r.Context(), principal(r.Context()), r.PathValue("id"), current); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// currentPassword reads the optional {"current_password"} body of a
// request that may have none (a DELETE, or a POST with nothing else to
// say).
func (s *Server) currentPassword(r *http.Request) (string, error) {
	var req struct {
		CurrentPassword string `json:"current_password"`
	}
	if r.ContentLength == 0 || (r.ContentLength < 0 && r.Header.Get("Content-Type") == "") {
		return "", nil
	}
	err := s.decode(r, &req, jsonOnly)
	return req.CurrentPassword, err
}

// handleFactorChallenge is POST /v1/factors/{id}/challenge: the WebAuthn
// request options to answer an mfa_token with a security key.
func (s *Server) handleFactorChallenge() http.Handler {
	type request struct {
		MFAToken string `json:"mfa_token"`
	}
	return handleBody(s, jsonOrForm, func(w http.ResponseWriter, r *http.Request, req request) error {
		if err := required("mfa_token", req.MFAToken); err != nil {
			return err
		}
		opts, err := s.auth.FactorChallenge(r.Context(), req.MFAToken, r.PathValue("id"))
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		encode(w, http.StatusOK, map[string]json.RawMessage{"options": opts})
		return nil
	})
}

// handlePasskeyChallenge is POST /v1/passkeys/challenge: options for a
// passkey sign-in without an email, and the id to finish it with.
func (s *Server) handlePasskeyChallenge() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		// The body, if any, says nothing; read a little of it so that a
		// keep-alive connection stays usable.
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1024))
		c, err := s.auth.NewPasskeyChallenge(r.Context())
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		encode(w, http.StatusOK, struct {
			ChallengeID string          `json:"challenge_id"`
			Options     json.RawMessage `json:"options"`
		}{c.ID, c.Options})
		return nil
	})
}

// mfaBody is what an mfa_required answer adds to the error body.
type mfaBody struct {
	Error       string       `json:"error"`
	Description string       `json:"error_description"`
	MFAToken    string       `json:"mfa_token"`
	Factors     []factorJSON `json:"factors"`
}

// writeMFARequired answers a sign-in that waits for its second step:
// 403 mfa_required with the ticket and the factors that can finish it.
func writeMFARequired(w http.ResponseWriter, err error) bool {
	var m *auth.MFARequired
	if !errors.As(err, &m) {
		return false
	}
	ae := m.API()
	w.Header().Set("Cache-Control", "no-store")
	encode(w, ae.Status, mfaBody{Error: ae.Code, Description: ae.Message, MFAToken: m.Token, Factors: factorsJSON(m.Factors)})
	return true
}
