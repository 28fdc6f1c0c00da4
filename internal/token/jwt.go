package token

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Issue signs c with the current key. It sets iss, aud, iat, exp
// (iat + AccessTTL) and a random jti, and client_id when c has none; the
// caller supplies sub and sid (both required) and the other claims. The
// header carries alg, kid and typ "at+jwt" (RFC 9068 §2.1). It returns the
// compact JWS and the claims as signed.
func (m *Manager) Issue(c Claims) (string, Claims, error) {
	set := m.set.Load()
	if set == nil {
		return "", Claims{}, ErrNoSigningKey
	}
	if c.Subject == "" || c.SessionID == "" {
		return "", Claims{}, errors.New("token: issue: sub and sid are required")
	}
	// NumericDates are whole seconds; truncating here makes the returned
	// claims equal to what Verify will read back.
	now := time.Unix(m.now().Unix(), 0).UTC()
	c.Issuer = m.opts.Issuer
	c.Audience = slices.Clone(m.opts.Audience)
	c.IssuedAt = now
	c.ExpiresAt = now.Add(m.opts.AccessTTL).Truncate(time.Second)
	c.NotBefore = fromNumericDate(numericDate(c.NotBefore))
	// 26 base32 characters: 130 random bits, more than RFC 9068 and ASVS
	// ask of a unique identifier.
	c.ID = rand.Text()
	if c.ClientID == "" {
		c.ClientID = m.opts.ClientID
	}
	// Marshalling the wire form directly spares encoding/json a second
	// pass over the output of Claims.MarshalJSON.
	payload, err := json.Marshal(c.wire())
	if err != nil {
		return "", Claims{}, fmt.Errorf("token: issue: %w", err)
	}
	jws, err := set.current.signer.Sign(payload)
	if err != nil {
		return "", Claims{}, fmt.Errorf("token: issue: sign: %w", err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		return "", Claims{}, fmt.Errorf("token: issue: %w", err)
	}
	return raw, c, nil
}

// Verify checks an access token strictly (RFC 8725 §3, RFC 9068 §4) and
// returns its claims. It accepts only a compact JWS of at most
// MaxTokenSize bytes in canonical base64url; signed by a published key
// (next, current or previous) chosen by kid, with the header alg equal to
// that key's; with typ at+jwt and no crit; from Issuer, for one of
// Audience, within exp, nbf and iat (give or take Leeway); with sub, sid,
// jti and client_id. jwk, jku, x5c and x5u headers are never used. An
// unknown kid makes it reload the keys, at most once per
// KidReloadInterval. Every error wraps ErrInvalidToken.
func (m *Manager) Verify(ctx context.Context, raw string) (Claims, error) {
	if len(raw) > MaxTokenSize {
		return Claims{}, invalid("token is %d bytes, more than %d", len(raw), MaxTokenSize)
	}
	if err := checkCompact(raw); err != nil {
		return Claims{}, invalid("%v", err)
	}
	set := m.set.Load()
	if set == nil {
		return Claims{}, invalid("no signing keys loaded")
	}
	jws, err := jose.ParseSignedCompact(raw, m.parseAlgs)
	if err != nil {
		// go-jose quotes header values in its errors; the clip keeps an
		// attacker's 8 KiB out of the logs.
		return Claims{}, invalid("%.200v", err)
	}
	h := jws.Signatures[0].Protected
	// latch never sets crit, so no extension is understood (RFC 7515
	// §4.1.11); b64 would change what the signature covers (RFC 7797).
	if _, ok := h.ExtraHeaders["crit"]; ok {
		return Claims{}, invalid("crit header")
	}
	if _, ok := h.ExtraHeaders["b64"]; ok {
		return Claims{}, invalid("b64 header")
	}
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !accessTokenType(typ) {
		return Claims{}, invalid("typ %.32q, want at+jwt", typ)
	}
	if h.KeyID == "" {
		return Claims{}, invalid("no kid")
	}
	k := set.byID[h.KeyID]
	if k == nil {
		k = m.reloadForKid(ctx, h.KeyID).byID[h.KeyID]
		if k == nil {
			return Claims{}, invalid("unknown kid %.64q", h.KeyID)
		}
	}
	if string(k.alg) != h.Algorithm {
		return Claims{}, invalid("alg %.32q, but key %s is %s", h.Algorithm, k.id, k.alg)
	}
	payload, err := jws.Verify(k.public)
	if err != nil {
		return Claims{}, invalid("signature: %.200v", err)
	}
	var w wireClaims
	if err := json.Unmarshal(payload, &w); err != nil {
		return Claims{}, invalid("claims: %.200v", err)
	}
	c := w.claims()
	if err := m.checkClaims(c); err != nil {
		return Claims{}, err
	}
	return c, nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidToken}, args...)...)
}

// accessTokenType accepts typ at+jwt, which RFC 7515 §4.1.9 lets senders
// write with or without the "application/" prefix and in any case.
func accessTokenType(typ string) bool {
	typ, _ = strings.CutPrefix(strings.ToLower(typ), "application/")
	return typ == "at+jwt"
}

func (m *Manager) checkClaims(c Claims) error {
	now := m.now()
	switch {
	case c.Issuer != m.opts.Issuer:
		return invalid("iss %.128q", c.Issuer)
	case !slices.ContainsFunc(c.Audience, func(a string) bool { return slices.Contains(m.opts.Audience, a) }):
		return invalid("aud %.128q is none of ours", c.Audience)
	case c.ExpiresAt.IsZero():
		return invalid("no exp")
	case !now.Add(-m.opts.Leeway).Before(c.ExpiresAt):
		return invalid("expired at %s", c.ExpiresAt.Format(time.RFC3339))
	case c.IssuedAt.IsZero():
		return invalid("no iat")
	case c.IssuedAt.After(now.Add(m.opts.Leeway)):
		return invalid("iat %s is in the future", c.IssuedAt.Format(time.RFC3339))
	case !c.NotBefore.IsZero() && c.NotBefore.After(now.Add(m.opts.Leeway)):
		return invalid("nbf %s is in the future", c.NotBefore.Format(time.RFC3339))
	case c.Subject == "":
		return invalid("no sub")
	case c.SessionID == "":
		return invalid("no sid")
	case c.ID == "":
		return invalid("no jti")
	case c.ClientID == "":
		return invalid("no client_id")
	}
	return nil
}

// checkCompact accepts exactly three non-empty segments of canonical
// unpadded base64url. Go's decoder would also take newlines and
// non-zero trailing bits, so that many different strings would carry one
// valid signature; refusing them keeps a token's text unique.
func checkCompact(raw string) error {
	names := [...]string{"header", "payload", "signature"}
	seg, start := 0, 0
	for i := 0; i <= len(raw); i++ {
		if i < len(raw) && raw[i] != '.' {
			if !isB64URL(raw[i]) {
				return fmt.Errorf("byte %d is not base64url", i)
			}
			continue
		}
		if seg == len(names) {
			return errors.New("more than three segments")
		}
		if !canonicalSegment(raw[start:i]) {
			return fmt.Errorf("%s is empty or not canonical base64url", names[seg])
		}
		seg, start = seg+1, i+1
	}
	if seg != len(names) {
		return fmt.Errorf("%d segments, want 3", seg)
	}
	return nil
}

// canonicalSegment reports whether s (all base64url characters) is the
// unique unpadded encoding of some non-empty byte string: its length is
// not 1 mod 4 and its last character leaves no bits set beyond the data.
func canonicalSegment(s string) bool {
	if len(s) == 0 {
		return false
	}
	last := b64Value(s[len(s)-1])
	switch len(s) % 4 {
	case 1:
		return false
	case 2:
		return last&0x0f == 0
	case 3:
		return last&0x03 == 0
	}
	return true
}

func b64Value(c byte) byte {
	switch {
	case 'A' <= c && c <= 'Z':
		return c - 'A'
	case 'a' <= c && c <= 'z':
		return c - 'a' + 26
	case '0' <= c && c <= '9':
		return c - '0' + 52
	case c == '-':
		return 62
	}
	return 63
}

// reloadForKid reloads the keys for a token whose kid this instance does
// not know, and returns the key set to look in again. Only plausible kids
// trigger it, at most once per KidReloadInterval; requests arriving while
// a reload runs wait for it instead of starting another.
func (m *Manager) reloadForKid(ctx context.Context, kid string) *keySet {
	if !plausibleKid(kid) {
		return m.set.Load()
	}
	m.kidMu.Lock()
	if f := m.kidFlight; f != nil {
		m.kidMu.Unlock()
		select {
		case <-f:
		case <-ctx.Done():
		}
		return m.set.Load()
	}
	now := m.now()
	if !m.lastKidReload.IsZero() && now.Sub(m.lastKidReload) < m.opts.KidReloadInterval {
		m.kidMu.Unlock()
		return m.set.Load()
	}
	m.lastKidReload = now
	f := make(chan struct{})
	m.kidFlight = f
	m.kidMu.Unlock()

	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), kidReloadTimeout)
	err := m.Reload(rctx)
	cancel()
	m.kidMu.Lock()
	m.kidFlight = nil
	m.kidMu.Unlock()
	close(f)
	if err != nil {
		m.log.Warn("reload signing keys for an unknown kid", "err", err)
	}
	return m.set.Load()
}
