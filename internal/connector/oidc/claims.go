package oidc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/latchauth/latch/internal/connector/internal/flow"
)

// claims are the ID token's (or userinfo's) claims latch reads.
type claims struct {
	Subject           string `json:"sub"`
	Email             string `json:"email"`
	EmailVerified     Bool   `json:"email_verified"`
	Name              string `json:"name"`
	PreferredUsername string `json:"preferred_username"`
	AZP               string `json:"azp"`
	hasEmail          bool
}

func (c *claims) UnmarshalJSON(b []byte) error {
	type plain claims
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*c = claims(p)
	c.hasEmail = c.Email != ""
	return nil
}

// rawClaims is a token's payload as it came.
type rawClaims = json.RawMessage

// Bool is a boolean claim that some providers send as the string
// "true" or "false" (Apple's email_verified and is_private_email).
type Bool bool

// UnmarshalJSON accepts true, false, "true" and "false".
func (b *Bool) UnmarshalJSON(data []byte) error {
	switch string(bytes.TrimSpace(data)) {
	case `true`, `"true"`:
		*b = true
	case `false`, `"false"`, `null`:
		*b = false
	default:
		return errors.New("a boolean claim is neither true nor false")
	}
	return nil
}

// keySet is go-oidc's RemoteKeySet (keys cached, refetched when a token
// names an unknown key id) that also records, in the verification's
// context, when the keys could not be fetched: go-oidc flattens that
// error to text, and latch must answer ErrUnavailable then, not
// ErrInvalid.
type keySet struct{ remote *gooidc.RemoteKeySet }

type slotKey struct{}

type fetchSlot struct{ err error }

func (k keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	payload, err := k.remote.VerifySignature(ctx, jwt)
	if err != nil && flow.IsUnavailable(err) {
		if s, ok := ctx.Value(slotKey{}).(*fetchSlot); ok {
			s.err = err
		}
	}
	return payload, err
}
