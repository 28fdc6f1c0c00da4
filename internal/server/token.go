package server

import (
	"cmp"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/latchauth/latch/internal/auth"
)

// tokenJSON is the token response of RFC 6749 §5.1 with the user added.
type tokenJSON struct {
	AccessToken  string   `json:"access_token"`
	TokenType    string   `json:"token_type"`
	ExpiresIn    int64    `json:"expires_in"`
	RefreshToken string   `json:"refresh_token,omitempty"` // in a cookie instead with token_delivery=cookie
	User         userJSON `json:"user"`
	// DeviceToken comes with a complete sign-in, not with a refresh;
	// presented back on the password grant it spares the client the
	// account-wide delay that others' failures cause.
	DeviceToken string `json:"device_token,omitempty"`
}

func writeTokens(w http.ResponseWriter, status int, t auth.TokenResponse) {
	encode(w, status, tokenJSON{
		AccessToken:  t.AccessToken,
		TokenType:    "Bearer",
		ExpiresIn:    t.ExpiresIn,
		RefreshToken: t.RefreshToken,
		User:         newUserJSON(t.User),
		DeviceToken:  t.DeviceToken,
	})
}

// grantRequest is the token endpoint's body, JSON or form.
type grantRequest struct {
	GrantType    string `json:"grant_type"`
	Email        string `json:"email"`
	Username     string `json:"username"` // RFC 6749 §4.3.2 calls the email this
	Password     string `json:"password"`
	RefreshToken string `json:"refresh_token"`
	Code         string `json:"code"`  // grant_type=otp: the emailed code, with email; authorization_code: the code
	Token        string `json:"token"` // grant_type=otp: the token of the emailed link
	DeviceToken  string `json:"device_token"`
	// grant_type=authorization_code (RFC 6749 §4.1.3, RFC 7636 §4.5)
	RedirectURI  string `json:"redirect_uri"`
	CodeVerifier string `json:"code_verifier"`
	// grant_type=id_token: a provider's ID token held by a native app.
	Provider string `json:"provider"`
	IDToken  string `json:"id_token"`
	Nonce    string `json:"nonce"`
	// grant_type=mfa: the second step of a sign-in.
	MFAToken     string `json:"mfa_token"`
	FactorID     string `json:"factor_id"`
	RecoveryCode string `json:"recovery_code"`
	// grant_type=mfa with a security key, and grant_type=passkey: a
	// WebAuthn assertion (AuthenticationResponseJSON); passkey also
	// needs the challenge_id of POST /v1/passkeys/challenge.
	Credential  json.RawMessage `json:"credential"`
	ChallengeID string          `json:"challenge_id"`
	// "cookie": the refresh token travels in a cookie (refreshcookie.go).
	TokenDelivery string `json:"token_delivery"`
}

// handleToken is the token endpoint (RFC 6749 §3.2): every grant, in
// JSON or form encoding.
func (s *Server) handleToken() http.Handler {
	return handleBody(s, jsonOrForm, func(w http.ResponseWriter, r *http.Request, req grantRequest) error {
		if err := s.checkDelivery(r, req.TokenDelivery); err != nil {
			return err
		}
		t, answered, err := s.grant(w, r, &req)
		if err != nil || answered {
			return err
		}
		if req.TokenDelivery == "cookie" {
			s.setRefreshCookie(w, &t)
		}
		writeTokens(w, http.StatusOK, t)
		return nil
	})
}

// checkDelivery checks token_delivery: the body (the default), or a
// cookie for a request from an allowed origin.
func (s *Server) checkDelivery(r *http.Request, delivery string) error {
	switch delivery {
	case "", "body":
		return nil
	case "cookie":
		if !s.credentialedOrigin(r) {
			return newError(http.StatusBadRequest, codeInvalidRequest, "token_delivery=cookie needs a request from an allowed origin (LATCH_CORS_ORIGINS)")
		}
		return nil
	default:
		return badRequest("token_delivery must be \"body\" or \"cookie\"")
	}
}

// grant runs the request's grant; answered reports that it wrote the
// answer itself (the address bucket's 429).
func (s *Server) grant(w http.ResponseWriter, r *http.Request, req *grantRequest) (t auth.TokenResponse, answered bool, err error) {
	if err := s.grantOff(req.GrantType); err != nil {
		return t, false, err
	}
	switch req.GrantType {
	case "password", "otp", "id_token", "mfa", "passkey":
		// Only the grants that check a guessable secret meet the address
		// bucket: they cost a hash or a guess. Refreshes and codes are
		// cheap, and a NAT full of users, or an application's back end,
		// makes many from one address.
		if !s.addressAllowed(w, r) {
			return t, true, nil
		}
	}
	switch req.GrantType {
	case "password":
		email := cmp.Or(req.Email, req.Username)
		t, err = s.auth.PasswordLogin(r.Context(), email, req.Password, req.DeviceToken, s.requester(r))
	case "refresh_token":
		t, err = s.refreshGrant(w, r, req)
	case "authorization_code":
		t, err = s.auth.ExchangeCode(r.Context(), req.Code, req.RedirectURI, req.CodeVerifier, s.requester(r))
	case "otp":
		if req.Token != "" {
			t, err = s.auth.OTPLinkLogin(r.Context(), req.Token, s.requester(r))
		} else {
			t, err = s.auth.OTPCodeLogin(r.Context(), req.Email, req.Code, s.requester(r))
		}
	case "id_token":
		t, err = s.auth.SignInWithIDToken(r.Context(), req.Provider, req.IDToken, req.Nonce, s.requester(r))
	case "mfa":
		t, err = s.auth.FinishMFA(r.Context(), auth.MFAAnswer{Token: req.MFAToken, FactorID: req.FactorID, Code: req.Code,
			Credential: req.Credential, RecoveryCode: req.RecoveryCode}, s.requester(r))
	case "passkey":
		t, err = s.auth.PasskeySignIn(r.Context(), req.ChallengeID, req.Credential, s.requester(r))
	case "":
		err = badRequest("grant_type is required: %s", s.grantTypes())
	default:
		err = newError(http.StatusBadRequest, codeUnsupportedGrantType, "grant_type "+describe(req.GrantType)+" is not supported; use "+s.grantTypes())
	}
	return t, false, err
}

// grantOff refuses a grant type that latch knows but this server's
// configuration leaves off, before it meets the address bucket.
func (s *Server) grantOff(grant string) error {
	switch {
	case grant == "id_token" && len(s.auth.Providers()) == 0:
		return newError(http.StatusBadRequest, codeUnsupportedGrantType, "grant_type id_token needs a sign-in provider; none is configured")
	case grant == "mfa" && !s.auth.FactorsEnabled(), grant == "passkey" && !s.auth.PasskeysEnabled():
		return newError(http.StatusBadRequest, codeUnsupportedGrantType, "grant_type "+grant+" is not enabled on this server")
	}
	return nil
}

// refreshGrant rotates the refresh token of the body, or, when the body
// has none, of the refresh cookie (whose answer then goes to the cookie
// too, and a refused cookie is cleared).
func (s *Server) refreshGrant(w http.ResponseWriter, r *http.Request, req *grantRequest) (auth.TokenResponse, error) {
	fromCookie := req.RefreshToken == ""
	if fromCookie {
		if req.RefreshToken = s.cookieRefresh(r); req.RefreshToken != "" {
			req.TokenDelivery = "cookie"
		}
	}
	t, err := s.auth.Refresh(r.Context(), req.RefreshToken, s.requester(r))
	if err != nil && fromCookie && req.RefreshToken != "" {
		s.clearRefreshCookie(w)
	}
	return t, err
}

// grantTypeList lists the grant types this server accepts, for errors
// and discovery.
func (s *Server) grantTypeList() []string {
	g := []string{"password", "refresh_token", "authorization_code"}
	if s.auth.PasswordlessEnabled() {
		g = append(g, "otp")
	}
	if len(s.auth.Providers()) > 0 {
		g = append(g, "id_token")
	}
	if s.auth.FactorsEnabled() {
		g = append(g, "mfa")
	}
	if s.auth.PasskeysEnabled() {
		g = append(g, "passkey")
	}
	return g
}

func (s *Server) grantTypes() string {
	g := s.grantTypeList()
	return strings.Join(g[:len(g)-1], ", ") + " or " + g[len(g)-1]
}
