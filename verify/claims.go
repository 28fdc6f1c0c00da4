package verify

import (
	"encoding/json"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// Claims are the claims of a verified latch access token (RFC 9068 §2.2).
// Times are UTC; a zero time is a claim the token did not carry.
type Claims struct {
	Issuer    string    // iss: the issuer URL given to New
	Subject   string    // sub: the user's id (a UUID)
	Audience  []string  // aud: written as a string or an array in the token
	ExpiresAt time.Time // exp
	IssuedAt  time.Time // iat
	NotBefore time.Time // nbf: optional
	ID        string    // jti: unique per token
	ClientID  string    // client_id: the client the token was issued to
	SessionID string    // sid: the latch session the token belongs to
	AMR       []string  // amr: how the user authenticated (RFC 8176), e.g. ["pwd"]
	AAL       string    // aal: authenticator assurance level, "aal1" to "aal3"
	// AuthTime is auth_time (RFC 9068 §2.2.1): when the person last
	// proved a credential; zero for a session that began with an email
	// link. A refresh does not move it: compare it with the time to ask
	// for a recent sign-in before a sensitive action.
	AuthTime time.Time
	Email    string // email
	// EmailVerified is email_verified: whether latch has seen the user
	// prove control of Email.
	EmailVerified bool
	// Scope is scope: space-separated scope tokens (RFC 6749 §3.3);
	// empty when the token carries none. See HasScope.
	Scope string
	// IDP is idp: the social provider the person signed in with (the id
	// latch's configuration gives it, e.g. "google"); empty when they
	// used latch's own credentials.
	IDP string

	// payload is the claim set as signed, for Decode.
	payload string
}

// HasScope reports whether s is one of the space-separated tokens in
// c.Scope. The comparison is exact, as RFC 6749 §3.3 asks.
func (c *Claims) HasScope(s string) bool {
	if s == "" {
		return false
	}
	rest := c.Scope
	for rest != "" {
		var tok string
		tok, rest, _ = strings.Cut(rest, " ")
		if tok == s {
			return true
		}
	}
	return false
}

// Decode unmarshals the token's whole claim set, as signed, into v with
// encoding/json; use it to read claims that Claims has no field for. It
// is only as trustworthy as the Claims it is called on: call it on what
// Verify or ClaimsFrom returned.
func (c *Claims) Decode(v any) error {
	return json.Unmarshal([]byte(c.payload), v)
}

// Claim names, as bits, to refuse a claim set that names one twice
// (RFC 7519 §4 lets a parser refuse rather than pick one).
const (
	seenIss = 1 << iota
	seenSub
	seenAud
	seenExp
	seenIat
	seenNbf
	seenJti
	seenClientID
	seenSid
	seenAMR
	seenAAL
	seenAuthTime
	seenEmail
	seenEmailVerified
	seenScope
	seenIDP
)

// parseClaims reads a claim set. It checks syntax and types only;
// Verifier.checkClaims decides whether the claims are acceptable. A
// known claim with a null value reads as absent.
func parseClaims(payload string) (*Claims, bool) {
	if !utf8.ValidString(payload) {
		return nil, false
	}
	c := &Claims{payload: payload}
	p := scanner{s: payload}
	seen := 0
	ok := p.object(func(name string) bool {
		var bit int
		var ok bool
		switch name {
		case "iss":
			bit, ok = seenIss, p.optStr(&c.Issuer)
		case "sub":
			bit, ok = seenSub, p.optStr(&c.Subject)
		case "aud":
			bit = seenAud
			c.Audience, ok = p.strs(true)
		case "exp":
			bit, ok = seenExp, p.numericDate(&c.ExpiresAt)
		case "iat":
			bit, ok = seenIat, p.numericDate(&c.IssuedAt)
		case "nbf":
			bit, ok = seenNbf, p.numericDate(&c.NotBefore)
		case "jti":
			bit, ok = seenJti, p.optStr(&c.ID)
		case "client_id":
			bit, ok = seenClientID, p.optStr(&c.ClientID)
		case "sid":
			bit, ok = seenSid, p.optStr(&c.SessionID)
		case "amr":
			bit = seenAMR
			c.AMR, ok = p.strs(false)
		case "aal":
			bit, ok = seenAAL, p.optStr(&c.AAL)
		case "auth_time":
			bit, ok = seenAuthTime, p.numericDate(&c.AuthTime)
		case "email":
			bit, ok = seenEmail, p.optStr(&c.Email)
		case "email_verified":
			bit = seenEmailVerified
			if ok = p.null(); !ok {
				c.EmailVerified, ok = p.boolean()
			}
		case "scope":
			bit, ok = seenScope, p.optStr(&c.Scope)
		case "idp":
			bit, ok = seenIDP, p.optStr(&c.IDP)
		default:
			return p.skip(1)
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		return ok
	})
	if !ok || !p.end() {
		return nil, false
	}
	return c, true
}

// optStr reads a string or null into *dst.
func (p *scanner) optStr(dst *string) bool {
	if p.null() {
		return true
	}
	s, ok := p.str()
	*dst = s
	return ok
}

// maxNumericDate is the last second of year 9999; later dates (and
// negative ones) are refused rather than risk overflowing time.Time.
const maxNumericDate = 253402300799

// numericDate reads a NumericDate (RFC 7519 §2): seconds since the epoch,
// which may have a fraction, or null.
func (p *scanner) numericDate(dst *time.Time) bool {
	if p.null() {
		return true
	}
	f, ok := p.number()
	if !ok || f < 0 || f > maxNumericDate {
		return false
	}
	*dst = fromNumericDate(f)
	return true
}

func fromNumericDate(f float64) time.Time {
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}
