package store

import (
	"context"
	"errors"
	"time"
)

// AuthCode is an authorization code of the browser flow (RFC 6749
// §4.1): issued to a browser session for one redirect URI and one PKCE
// challenge, redeemed once by the application for an app session.
type AuthCode struct {
	// Hash is the SHA-256 of the code; the code itself is never stored.
	Hash      []byte
	UserID    string
	SessionID string // the browser session that asked for the code
	// RedirectURI and Challenge bind the code: the redemption must name
	// the same URI and prove the challenge's verifier (RFC 7636 S256).
	RedirectURI string
	Challenge   string
	CreatedAt   time.Time
	ExpiresAt   time.Time
	// UsedAt is when the code was redeemed, zero until then; IssuedID is
	// the app session the redemption made, so that a second redemption
	// can end it (RFC 6749 §4.1.2).
	UsedAt   time.Time
	IssuedID string
}

// AuthCodes stores authorization codes.
type AuthCodes interface {
	// CreateAuthCode inserts c. ErrAlreadyExists if its hash is taken.
	CreateAuthCode(ctx context.Context, c AuthCode) error
	// GetAuthCode returns the code with this hash, used or not.
	// ErrNotFound if there is none.
	GetAuthCode(ctx context.Context, hash []byte) (AuthCode, error)
	// RedeemAuthCode, in one transaction, marks the code with this hash
	// used at s.CreatedAt by s and creates s as CreateSession does (and
	// refuses it as CreateSession does: ErrStale, ErrNotFound...),
	// unless the code is used already: then nothing is written and the
	// code comes back as stored, UsedAt and IssuedID set, for the caller
	// to end the session the first redemption made. On success the code
	// comes back as it was before, unused. ErrNotFound if there is no
	// code with this hash. Of concurrent redemptions exactly one
	// succeeds.
	RedeemAuthCode(ctx context.Context, hash []byte, s Session) (AuthCode, error)
	// DeleteAuthCodesBefore removes codes whose ExpiresAt is strictly
	// before t, used or not, and returns how many; a zero t matches
	// nothing.
	DeleteAuthCodesBefore(ctx context.Context, t time.Time) (int64, error)
}

// Checked checks c for CreateAuthCode (a hash, UUIDs for the user and
// the browser session, a redirect URI and a challenge, both times) and
// returns it with its ids in canonical form.
func (c AuthCode) Checked() (AuthCode, error) {
	userID, ok := CanonicalID(c.UserID)
	if !ok {
		return AuthCode{}, ErrNotFound
	}
	sessionID, ok := CanonicalID(c.SessionID)
	if !ok {
		return AuthCode{}, ErrInvalidID
	}
	if len(c.Hash) == 0 || c.RedirectURI == "" || c.Challenge == "" || c.CreatedAt.IsZero() || c.ExpiresAt.IsZero() {
		return AuthCode{}, errors.New("an authorization code needs a hash, a redirect URI, a challenge and both times")
	}
	c.UserID, c.SessionID = userID, sessionID
	return c, nil
}
