package token

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Claims are the RFC 9068 access-token claims latch issues. In JSON they
// are iss, sub, aud, exp, iat, nbf, jti, client_id, sid, amr, aal,
// auth_time, email, email_verified and scope; times are NumericDates (whole Unix seconds)
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
	// AuthTime is auth_time (RFC 9068 §2.2.1): when the person last
	// proved a credential; zero (absent) for a session from an email
	// link.
	AuthTime time.Time
	Email    string // email
	// IDP is idp: the social provider the person signed in with (its
	// configured id); empty (absent) for latch's own credentials.
	IDP string
	// EmailVerified is email_verified.
	EmailVerified bool
	Scope         string // scope: space-separated; optional
}

// wireClaims is Claims as Issue writes them: NumericDates as integers and
// empty optional claims left out.
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
	AuthTime      int64    `json:"auth_time,omitempty"`
	Email         string   `json:"email,omitempty"`
	EmailVerified bool     `json:"email_verified"`
	Scope         string   `json:"scope,omitempty"`
	IDP           string   `json:"idp,omitempty"`
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
		AuthTime:      numericDate(c.AuthTime),
		Email:         c.Email,
		EmailVerified: c.EmailVerified,
		Scope:         c.Scope,
		IDP:           c.IDP,
	}
}

// UnmarshalJSON reads a token payload; aud may be a string or an array
// (RFC 7519 §4.1.3). It checks no claim: Manager.Verify does.
func (c *Claims) UnmarshalJSON(b []byte) error {
	d, err := decodeClaims(b)
	if err != nil {
		return err
	}
	*c = d
	return nil
}

// The claims decodeClaims knows, as bit positions for its duplicate check.
const (
	claimIss = iota
	claimSub
	claimAud
	claimExp
	claimIat
	claimNbf
	claimJti
	claimClientID
	claimSid
	claimAMR
	claimAAL
	claimAuthTime
	claimEmail
	claimEmailVerified
	claimScope
	claimIDP
)

func claimID(name []byte) int {
	switch string(name) {
	case "iss":
		return claimIss
	case "sub":
		return claimSub
	case "aud":
		return claimAud
	case "exp":
		return claimExp
	case "iat":
		return claimIat
	case "nbf":
		return claimNbf
	case "jti":
		return claimJti
	case "client_id":
		return claimClientID
	case "sid":
		return claimSid
	case "amr":
		return claimAMR
	case "aal":
		return claimAAL
	case "auth_time":
		return claimAuthTime
	case "email":
		return claimEmail
	case "email_verified":
		return claimEmailVerified
	case "scope":
		return claimScope
	case "idp":
		return claimIDP
	}
	return -1
}

// decodeClaims reads a JWT claims set without reflection: it runs on
// every verification, where encoding/json cost a tenth of a signature
// check. It wants a JSON object; claim names are case-sensitive
// (RFC 7519 §4) and a known claim may not appear twice (RFC 7519 §4 lets
// a parser refuse that rather than keep the last); null is an absent
// claim, as encoding/json has it; NumericDates must be integers, so that a
// token carrying fractional or string dates is refused. Claims it does not
// know are skipped.
func decodeClaims(b []byte) (Claims, error) {
	var c Claims
	var seen uint32
	err := eachMember(b, func(name, v []byte) error {
		id := claimID(name)
		if id < 0 {
			return nil
		}
		if seen&(1<<id) != 0 {
			return fmt.Errorf("claim %s appears twice", name)
		}
		seen |= 1 << id
		if string(v) == "null" {
			return nil
		}
		var err error
		switch id {
		case claimIss:
			c.Issuer, err = claimString(v)
		case claimSub:
			c.Subject, err = claimString(v)
		case claimAud:
			c.Audience, err = readAudience(v)
		case claimExp:
			c.ExpiresAt, err = claimDate(v)
		case claimIat:
			c.IssuedAt, err = claimDate(v)
		case claimNbf:
			c.NotBefore, err = claimDate(v)
		case claimJti:
			c.ID, err = claimString(v)
		case claimClientID:
			c.ClientID, err = claimString(v)
		case claimSid:
			c.SessionID, err = claimString(v)
		case claimAMR:
			c.AMR, err = stringArray(v)
		case claimAAL:
			c.AAL, err = claimString(v)
		case claimAuthTime:
			c.AuthTime, err = claimDate(v)
		case claimEmail:
			c.Email, err = claimString(v)
		case claimEmailVerified:
			c.EmailVerified, err = claimBool(v)
		case claimScope:
			c.Scope, err = claimString(v)
		case claimIDP:
			c.IDP, err = claimString(v)
		}
		if err != nil {
			return fmt.Errorf("claim %s: %w", name, err)
		}
		return nil
	})
	if err != nil {
		return Claims{}, err
	}
	return c, nil
}

func claimString(v []byte) (string, error) {
	s, err := stringValue(v)
	return string(s), err
}

func claimDate(v []byte) (time.Time, error) {
	// ParseInt takes exactly the JSON numbers without fraction or
	// exponent (valid JSON has no leading '+' or zeros to slip through).
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return time.Time{}, errors.New("not an integer NumericDate")
	}
	return fromNumericDate(n), nil
}

func claimBool(v []byte) (bool, error) {
	switch string(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, errors.New("not a boolean")
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

// readAudience reads aud as a string or an array of strings.
func readAudience(v []byte) ([]string, error) {
	if v[0] == '"' {
		s, err := claimString(v)
		return []string{s}, err
	}
	return stringArray(v)
}
