package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/latchauth/latch/internal/store"
)

// The authorization-code flow (RFC 6749 §4.1 with PKCE, RFC 7636, S256
// only): a browser session asks for a code bound to one redirect URI and
// one challenge; the application redeems it once, within CodeTTL, with
// the verifier, for an app session made from the browser session.
//
// A code is not stored anywhere: it is its own record, signed with a MAC
// under the server secret (the browser session, the user, a hash of the
// redirect URI, the challenge, the expiry and a nonce). Issuing one
// writes nothing, so a returning person's sign-in costs the database one
// write (the new session) rather than three. It is single use all the
// same: the app session it makes takes an id derived from the code, so a
// second redemption, concurrent or later, finds that id taken, and ends
// the session the first one made (RFC 6749 §4.1.2, RFC 9700 §4.5).

// CodeTTL is how long an authorization code can be redeemed.
const CodeTTL = 60 * time.Second

const codePrefix = "lac_"

// codeBody is what a code says, signed.
type codeBody struct {
	SessionID string `json:"s"`
	UserID    string `json:"u"`
	Redirect  []byte `json:"r"` // SHA-256 of the redirect URI
	Challenge string `json:"c"`
	Expires   int64  `json:"e"` // unix seconds
	Nonce     []byte `json:"n"`
}

// WellFormedChallenge reports whether c can be an S256 code challenge:
// the unpadded base64url of a SHA-256 (RFC 7636 §4.2).
func WellFormedChallenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil && len(b) == sha256.Size
}

// wellFormedVerifier: 43 to 128 characters of [A-Za-z0-9-._~] (RFC 7636
// §4.1).
func wellFormedVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// challengeMet compares S256(verifier) with the code's challenge in
// constant time.
func challengeMet(verifier, challenge string) bool {
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) == 1
}

// IssueCode makes an authorization code for the browser session p, bound
// to redirectURI and challenge, which the caller has checked
// (WellFormedChallenge, the allowed redirect URIs).
func (s *Service) IssueCode(_ context.Context, p Principal, redirectURI, challenge string) (string, error) {
	body := codeBody{
		SessionID: p.Session.ID, UserID: p.User.ID, Redirect: sha(redirectURI), Challenge: challenge,
		Expires: s.now().Add(CodeTTL).Unix(), Nonce: make([]byte, 16),
	}
	rand.Read(body.Nonce) // never fails: crypto/rand.Read panics rather than return short
	raw, err := json.Marshal(body)
	if err != nil {
		return "", err
	}
	payload := base64.RawURLEncoding.EncodeToString(raw)
	s.audit.Count("code.issue")
	return codePrefix + payload + "." + base64.RawURLEncoding.EncodeToString(s.mac.MAC("authorization code", []byte(payload))), nil
}

func sha(v string) []byte {
	h := sha256.Sum256([]byte(v))
	return h[:]
}

// openCode checks a code's MAC and returns what it says.
func (s *Service) openCode(code string) (codeBody, bool) {
	rest, ok := strings.CutPrefix(code, codePrefix)
	payload, mac, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || len(code) > 1024 {
		return codeBody{}, false
	}
	got, err := base64.RawURLEncoding.DecodeString(mac)
	if err != nil || !hmac.Equal(got, s.mac.MAC("authorization code", []byte(payload))) {
		return codeBody{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	var b codeBody
	if err != nil || json.Unmarshal(raw, &b) != nil {
		return codeBody{}, false
	}
	return b, true
}

// codeSessionID is the id of the app session a code makes: derived from
// the code, so that a code can make one session only.
func (s *Service) codeSessionID(code string) string {
	b := s.mac.MAC("authorization code session", []byte(code))[:16]
	b[6] = b[6]&0x0f | 0x80 // UUID version 8: made by latch's own rule
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	return uuid.UUID(b).String()
}

// ExchangeCode redeems an authorization code (grant_type
// authorization_code) for an app session made from the browser session
// that asked for it, inheriting its amr, aal and auth_time. Every reason
// to refuse gets the same invalid_grant.
func (s *Service) ExchangeCode(ctx context.Context, code, redirectURI, verifier string, c Requester) (TokenResponse, error) {
	ctx = WithRequester(ctx, c)
	if err := required("code", code, "redirect_uri", redirectURI, "code_verifier", verifier); err != nil {
		return TokenResponse{}, err
	}
	if !wellFormedVerifier(verifier) {
		return TokenResponse{}, invalid("code_verifier", "must be 43 to 128 characters of A-Z, a-z, 0-9 and -._~")
	}
	b, ok := s.openCode(code)
	if !ok {
		return TokenResponse{}, ErrInvalidCode
	}
	if s.now().Unix() >= b.Expires || !hmac.Equal(b.Redirect, sha(redirectURI)) || !challengeMet(verifier, b.Challenge) {
		s.record(ctx, "code.refused", b.UserID, b.SessionID, nil)
		return TokenResponse{}, ErrInvalidCode
	}
	parent, u, err := s.sessions.GetSessionWithUser(ctx, b.SessionID)
	if errors.Is(err, store.ErrNotFound) {
		return TokenResponse{}, ErrInvalidCode
	} else if err != nil {
		return TokenResponse{}, err
	}
	if parent.Kind != store.SessionBrowser || !s.sessionLive(parent, s.now()) || u.Disabled || u.ID != b.UserID {
		return TokenResponse{}, ErrInvalidCode
	}
	app := c
	app.Browser = false
	id := s.codeSessionID(code)
	tr, err := s.openSession(ctx, signIn{user: u, via: app, amr: parent.AMR, authTime: parent.AuthTime, stale: ErrInvalidCode, parent: &parent, id: id})
	if errors.Is(err, store.ErrAlreadyExists) {
		return TokenResponse{}, s.codeReplayed(ctx, u.ID, id)
	}
	return tr, err
}

// codeReplayed answers a second redemption of a code: the session the
// first one made ends (RFC 6749 §4.1.2).
func (s *Service) codeReplayed(ctx context.Context, userID, sessionID string) error {
	if err := s.revokeSession(ctx, sessionID, s.now().UTC()); err != nil {
		return err
	}
	s.record(ctx, "code.replay", userID, sessionID, map[string]any{"session_revoked": true})
	return ErrInvalidCode
}
