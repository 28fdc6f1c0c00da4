package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/latchauth/latch/internal/store"
)

// The authorization-code flow (RFC 6749 §4.1 with PKCE, RFC 7636, S256
// only): a browser session asks for a code bound to one redirect URI and
// one challenge; the application redeems it once, within CodeTTL, with
// the verifier, for an app session made from the browser session. Codes
// are stored only hashed. A code redeemed twice ends the session its
// first redemption made (RFC 6749 §4.1.2, RFC 9700 §4.5).

// CodeTTL is how long an authorization code can be redeemed.
const CodeTTL = 60 * time.Second

const codePrefix = "lac_"

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

// challengeMet compares S256(verifier) with the stored challenge in
// constant time.
func challengeMet(verifier, challenge string) bool {
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) == 1
}

// IssueCode makes an authorization code for the browser session p, bound
// to redirectURI and challenge, which the caller has checked
// (WellFormedChallenge, the allowed redirect URIs).
func (s *Service) IssueCode(ctx context.Context, p Principal, redirectURI, challenge string) (string, error) {
	if s.codes == nil {
		return "", errors.New("issue code: no code storage")
	}
	var b [32]byte
	rand.Read(b[:]) // never fails: crypto/rand.Read panics rather than return short
	code := codePrefix + base64.RawURLEncoding.EncodeToString(b[:])
	now := s.now().UTC()
	err := s.codes.CreateAuthCode(ctx, store.AuthCode{
		Hash: hashToken(code), UserID: p.User.ID, SessionID: p.Session.ID,
		RedirectURI: redirectURI, Challenge: challenge,
		CreatedAt: now, ExpiresAt: now.Add(CodeTTL),
	})
	if err != nil {
		return "", fmt.Errorf("issue code: %w", err)
	}
	s.audit.Count("code.issue")
	return code, nil
}

// ExchangeCode redeems an authorization code (grant_type
// authorization_code) for an app session made from the browser session
// that asked for it, inheriting its amr, aal and auth_time. Every reason
// to refuse gets the same invalid_grant.
func (s *Service) ExchangeCode(ctx context.Context, code, redirectURI, verifier string, c Requester) (TokenResponse, error) {
	ctx = WithRequester(ctx, c)
	switch {
	case code == "":
		return TokenResponse{}, invalid("code", "is required")
	case redirectURI == "":
		return TokenResponse{}, invalid("redirect_uri", "is required")
	case verifier == "":
		return TokenResponse{}, invalid("code_verifier", "is required")
	case !wellFormedVerifier(verifier):
		return TokenResponse{}, invalid("code_verifier", "must be 43 to 128 characters of A-Z, a-z, 0-9 and -._~")
	}
	if s.codes == nil || len(code) != len(codePrefix)+43 || code[:len(codePrefix)] != codePrefix {
		return TokenResponse{}, ErrInvalidCode
	}
	h := hashToken(code)
	ac, err := s.codes.GetAuthCode(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return TokenResponse{}, ErrInvalidCode
	} else if err != nil {
		return TokenResponse{}, fmt.Errorf("exchange code: %w", err)
	}
	if !ac.UsedAt.IsZero() {
		return TokenResponse{}, s.codeReplayed(ctx, ac)
	}
	if !s.now().Before(ac.ExpiresAt) || ac.RedirectURI != redirectURI || !challengeMet(verifier, ac.Challenge) {
		s.record(ctx, "code.refused", ac.UserID, ac.SessionID, nil)
		return TokenResponse{}, ErrInvalidCode
	}
	parent, u, err := s.sessions.GetSessionWithUser(ctx, ac.SessionID)
	if errors.Is(err, store.ErrNotFound) {
		return TokenResponse{}, ErrInvalidCode
	} else if err != nil {
		return TokenResponse{}, fmt.Errorf("exchange code: %w", err)
	}
	if parent.Kind != store.SessionBrowser || !s.sessionLive(parent, s.now()) || u.Disabled || u.ID != ac.UserID {
		return TokenResponse{}, ErrInvalidCode
	}
	app := c
	app.Browser = false
	// The code is spent in the transaction that creates the session, so
	// of two redemptions racing exactly one makes a session.
	var before store.AuthCode
	redeem := func(ctx context.Context, sess store.Session) error {
		var err error
		if before, err = s.codes.RedeemAuthCode(ctx, h, sess); err == nil && !before.UsedAt.IsZero() {
			return errCodeUsed
		}
		return err
	}
	tr, err := s.openSession(ctx, signIn{user: u, via: app, amr: parent.AMR, authTime: parent.AuthTime, stale: ErrInvalidCode, parent: &parent, create: redeem})
	switch {
	case errors.Is(err, errCodeUsed):
		return TokenResponse{}, s.codeReplayed(ctx, before)
	case errors.Is(err, store.ErrNotFound):
		return TokenResponse{}, ErrInvalidCode
	case err != nil:
		return TokenResponse{}, err
	}
	return tr, nil
}

// errCodeUsed: the code was redeemed before; nothing was written.
var errCodeUsed = errors.New("authorization code already redeemed")

// codeReplayed answers a second redemption of a code: the session the
// first one made ends (RFC 6749 §4.1.2).
func (s *Service) codeReplayed(ctx context.Context, ac store.AuthCode) error {
	if ac.IssuedID != "" {
		if err := s.revokeSession(ctx, ac.IssuedID, s.now().UTC()); err != nil {
			return fmt.Errorf("exchange code: %w", err)
		}
	}
	s.record(ctx, "code.replay", ac.UserID, ac.IssuedID, map[string]any{"session_revoked": ac.IssuedID != ""})
	return ErrInvalidCode
}
