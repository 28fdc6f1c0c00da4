package token

import (
	"crypto/sha256"
	"slices"
	"sync"
	"time"
)

// maxVerified bounds the verified-token memo: at about 300 bytes an
// entry, a few MiB at most.
const maxVerified = 8192

// verifiedMemo remembers the tokens whose signature and header Verify has
// checked, so that a client that sends the same access token with every
// request costs one signature check per token, not one per request: the
// check is most of what authenticating a request costs.
//
// It remembers only what cannot change for a given text: that these exact
// bytes carry a valid signature by key k and valid headers, and the claims
// they encode. Everything that can change is decided again on every call:
// k must still be published (a key that leaves the key set takes its
// tokens with it), the claims are checked against the clock, and latch's
// own endpoints still read the session from the database, so a revoked
// session is refused at once on every instance. Tokens are found by their
// SHA-256, so the memo keeps no bearer token in clear.
type verifiedMemo struct {
	mu sync.RWMutex
	m  map[[sha256.Size]byte]verifiedToken
}

type verifiedToken struct {
	key    *signingKey
	claims Claims
}

// get returns the claims of a token verified before with a key that set
// still publishes.
func (v *verifiedMemo) get(sum [sha256.Size]byte, set *keySet) (Claims, bool) {
	v.mu.RLock()
	e, ok := v.m[sum]
	v.mu.RUnlock()
	if !ok || set.byID[e.key.id] != e.key {
		return Claims{}, false
	}
	return cloneClaims(e.claims), true
}

// put remembers a token that passed every check. When the memo is full it
// drops the expired entries, or everything if none has expired: refilling
// costs one signature check per token in use.
func (v *verifiedMemo) put(sum [sha256.Size]byte, k *signingKey, c Claims, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil || len(v.m) >= maxVerified {
		v.sweep(now)
	}
	v.m[sum] = verifiedToken{key: k, claims: cloneClaims(c)}
}

func (v *verifiedMemo) sweep(now time.Time) {
	if v.m == nil {
		v.m = make(map[[sha256.Size]byte]verifiedToken)
		return
	}
	for sum, e := range v.m {
		if !now.Before(e.claims.ExpiresAt) {
			delete(v.m, sum)
		}
	}
	if len(v.m) >= maxVerified {
		clear(v.m)
	}
}

// reset forgets every token, so that the next Verify of each checks its
// signature again.
func (v *verifiedMemo) reset() {
	v.mu.Lock()
	clear(v.m)
	v.mu.Unlock()
}

// cloneClaims copies c's slices, so that no caller can change what
// another one, or the memo, holds.
func cloneClaims(c Claims) Claims {
	c.Audience = slices.Clone(c.Audience)
	c.AMR = slices.Clone(c.AMR)
	return c
}
