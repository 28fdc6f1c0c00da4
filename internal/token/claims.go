package token

import (
	"encoding/json"
	"time"
)

// Claims are the RFC 9068 access-token claims latch issues. In JSON they
// are iss, sub, aud, exp, iat, nbf, jti, client_id, sid, amr, aal, email,
// email_verified and scope; times are NumericDates (whole Unix seconds)
// and a zero time is an absent claim.
type Claims struct {
	Issuer    string    // iss: latch's public URL
	Subject   string    // sub: the user id (a UUID)
	Audience  []string  // aud: written as a string when there is one
	ExpiresAt time.Time // exp
	IssuedAt  time.Time // iat
	NotBefore time.Time // nbf: optional
	ID        string    // jti: unique per token
	ClientID  string    // client_id: "latch" for the first-party API
	SessionID string    // sid: the session that the token belongs to
	AMR       []string  // amr: authentication methods, e.g. ["pwd"]
	AAL       string    // aal: authenticator assurance level, e.g. "aal1"
	Email     string    // email
	// EmailVerified is email_verified.
	EmailVerified bool
	Scope         string // scope: space-separated; optional
}

// wireClaims is Claims as it travels: NumericDates as integers, so that a
// token carrying fractional or string dates fails to decode and is refused.
type wireClaims struct {
	Issuer        string   `json:"iss"`
	Subject       string   `json:"sub"`
	Audience      audience `json:"aud,omitempty"`
	ExpiresAt     int64    `json:"exp"`
	IssuedAt      int64    `json:"iat"`
	NotBefore     int64    `json:"nbf,omitempty"`
	ID            string   `json:"jti"`
	ClientID      string   `json:"client_id"`
	SessionID     string   `json:"sid"`
	AMR           []string `json:"amr,omitempty"`
	AAL           string   `json:"aal,omitempty"`
	Email         string   `json:"email,omitempty"`
	EmailVerified bool     `json:"email_verified"`
	Scope         string   `json:"scope,omitempty"`
}

// MarshalJSON writes the claims as they appear in a token's payload (and,
// for introspection, in an RFC 7662 response).
func (c Claims) MarshalJSON() ([]byte, error) {
	return json.Marshal(c.wire())
}

func (c Claims) wire() wireClaims {
	return wireClaims{
		Issuer:        c.Issuer,
		Subject:       c.Subject,
		Audience:      audience(c.Audience),
		ExpiresAt:     numericDate(c.ExpiresAt),
		IssuedAt:      numericDate(c.IssuedAt),
		NotBefore:     numericDate(c.NotBefore),
		ID:            c.ID,
		ClientID:      c.ClientID,
		SessionID:     c.SessionID,
		AMR:           c.AMR,
		AAL:           c.AAL,
		Email:         c.Email,
		EmailVerified: c.EmailVerified,
		Scope:         c.Scope,
	}
}

// UnmarshalJSON reads a token payload; aud may be a string or an array
// (RFC 7519 §4.1.3). It checks no claim: Manager.Verify does.
func (c *Claims) UnmarshalJSON(b []byte) error {
	var w wireClaims
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*c = w.claims()
	return nil
}

func (w wireClaims) claims() Claims {
	return Claims{
		Issuer:        w.Issuer,
		Subject:       w.Subject,
		Audience:      []string(w.Audience),
		ExpiresAt:     fromNumericDate(w.ExpiresAt),
		IssuedAt:      fromNumericDate(w.IssuedAt),
		NotBefore:     fromNumericDate(w.NotBefore),
		ID:            w.ID,
		ClientID:      w.ClientID,
		SessionID:     w.SessionID,
		AMR:           w.AMR,
		AAL:           w.AAL,
		Email:         w.Email,
		EmailVerified: w.EmailVerified,
		Scope:         w.Scope,
	}
}

func numericDate(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func fromNumericDate(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(n, 0).UTC()
}

// audience is aud in either of RFC 7519's forms. A single audience is
// written as a plain string, the form RFC 9068's examples use and the one
// the most verifiers understand.
type audience []string

func (a audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

func (a *audience) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = audience{s}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return err
	}
	*a = l
	return nil
}
