package token

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
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
	k := set.current
	tok := make([]byte, 0, len(k.header)+b64url.EncodedLen(len(payload))+1+b64url.EncodedLen(k.sigSize))
	tok = append(tok, k.header...)
	tok = b64url.AppendEncode(tok, payload)
	sig, err := k.sign(tok)
	if err != nil {
		return "", Claims{}, fmt.Errorf("token: issue: sign: %w", err)
	}
	tok = b64url.AppendEncode(append(tok, '.'), sig)
	return string(tok), c, nil
}

// Verify checks an access token strictly (RFC 8725 §3, RFC 9068 §4) and
// returns its claims. It accepts only a compact JWS of at most
// MaxTokenSize bytes in canonical base64url; signed by a published key
// (next, current or previous) chosen by kid, with the header alg equal to
// that key's and the signature exactly as long as that key's; with typ
// at+jwt, no crit and no b64, no member twice; from Issuer, for one of
// Audience, within exp, nbf and iat (give or take Leeway); with sub, sid,
// jti and client_id. jwk, jku, x5c and x5u headers are never read. An
// unknown kid makes it reload the keys, at most once per
// KidReloadInterval. A token that passed before is not checked for its
// signature and headers again while its key stays published; its claims
// are checked on every call. Every error wraps ErrInvalidToken.
func (m *Manager) Verify(ctx context.Context, raw string) (Claims, error) {
	if len(raw) > MaxTokenSize {
		return Claims{}, invalid("token is %d bytes, more than %d", len(raw), MaxTokenSize)
	}
	dot1, dot2, err := splitCompact(raw)
	if err != nil {
		return Claims{}, invalid("%v", err)
	}
	set := m.set.Load()
	if set == nil {
		return Claims{}, invalid("no signing keys loaded")
	}
	// One copy of the token serves as the signing input and as the
	// source of every segment's decoding.
	tok := []byte(raw)
	sum := sha256.Sum256(tok)
	if c, ok := m.verified.get(sum, set); ok {
		if err := m.checkClaims(c); err != nil {
			return Claims{}, err
		}
		return c, nil
	}
	k, err := m.headerKey(ctx, set, tok[:dot1])
	if err != nil {
		return Claims{}, err
	}
	if err := checkSignature(k, tok[:dot2], tok[dot2+1:]); err != nil {
		return Claims{}, err
	}
	payload, err := decodeInto(nil, tok[dot1+1:dot2])
	if err != nil {
		return Claims{}, invalid("payload: %v", err)
	}
	c, err := decodeClaims(payload)
	if err != nil {
		return Claims{}, invalid("claims: %.200v", err)
	}
	if err := m.checkClaims(c); err != nil {
		return Claims{}, err
	}
	m.verified.put(sum, k, c, m.now())
	return c, nil
}

// headerKey reads the encoded protected header headerText and returns the
// published key it names, reloading the keys for a kid set does not hold.
func (m *Manager) headerKey(ctx context.Context, set *keySet, headerText []byte) (*signingKey, error) {
	var hbuf [256]byte
	hb, err := decodeInto(hbuf[:], headerText)
	if err != nil {
		return nil, invalid("header: %v", err)
	}
	h, err := parseHeader(hb)
	if err != nil {
		return nil, invalid("%v", err)
	}
	if err := checkHeader(h); err != nil {
		return nil, err
	}
	k := set.byID[string(h.kid)]
	if k == nil {
		kid := string(h.kid)
		if k = m.reloadForKid(ctx, kid).byID[kid]; k == nil {
			return nil, invalid("unknown kid %.64q", kid)
		}
	}
	if string(h.alg) != k.alg {
		return nil, invalid("alg %s, but key %s is %s", h.alg, k.id, k.alg)
	}
	return k, nil
}

// checkHeader holds a protected header to what an access token may carry,
// before its kid is looked up.
func checkHeader(h header) error {
	// The allow-list never holds "none" or an HMAC algorithm, and is
	// checked before a kid can make the keys reload; the key found by kid
	// then narrows it to that key's own.
	if alg := string(h.alg); alg != ES256 && alg != EdDSA && alg != RS256 {
		return invalid("alg %.32q is not allowed", h.alg)
	}
	if h.crit {
		return invalid("crit header")
	}
	if h.b64 {
		return invalid("b64 header")
	}
	if !accessTokenType(h.typ) {
		return invalid("typ %.32q, want at+jwt", h.typ)
	}
	if len(h.kid) == 0 {
		return invalid("no kid")
	}
	return nil
}

// checkSignature checks that sigText, the encoded signature segment, is
// k's signature over input.
func checkSignature(k *signingKey, input, sigText []byte) error {
	// Checking the length before decoding refuses an ES256 signature in
	// ASN.1 DER, or a truncated one, without further work.
	if len(sigText) != b64url.EncodedLen(k.sigSize) {
		return invalid("signature is %d bytes, want %d", b64url.DecodedLen(len(sigText)), k.sigSize)
	}
	var sbuf [512]byte
	sig, err := decodeInto(sbuf[:], sigText)
	if err != nil {
		return invalid("signature: %v", err)
	}
	if !k.verify(input, sig) {
		return invalid("signature does not verify with key %s", k.id)
	}
	return nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidToken}, args...)...)
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
