package verify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"unicode/utf8"
)

// MaxTokenSize is the longest access token Verify reads, in bytes. latch's
// tokens are well under 1 KiB; the bound keeps the work an unauthenticated
// caller can cause small.
const MaxTokenSize = 8 << 10

// The signature algorithms a Verifier can accept (RFC 7518 §3.1,
// RFC 8037 §3.1). HMAC and none are absent on purpose: a resource server
// holds no shared secret, and an unsigned token proves nothing.
const (
	ES256 = "ES256" // ECDSA P-256 with SHA-256, latch's default
	EdDSA = "EdDSA" // Ed25519
	RS256 = "RS256" // RSASSA-PKCS1-v1_5 with SHA-256, keys of 2048 bits or more
)

// b64 decodes segments; Strict refuses set padding bits, so that one
// token has exactly one spelling (checkSegment refuses the newlines that
// the decoder would otherwise skip).
var b64 = base64.RawURLEncoding.Strict()

// header is what Verify reads of a JWS protected header.
type header struct {
	alg, kid, typ string
}

// compact splits a JWS in compact serialization (RFC 7515 §7.1) into its
// three segments, refusing empty ones and more than three.
func compact(raw string) (hdr, payload, sig string, ok bool) {
	hdr, rest, ok1 := strings.Cut(raw, ".")
	payload, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || !checkSegment(hdr) || !checkSegment(payload) || !checkSegment(sig) {
		return "", "", "", false
	}
	return hdr, payload, sig, true
}

// checkSegment refuses an empty segment, a fourth one, and the CR and LF
// that the base64 decoder would skip; b64 refuses every other byte
// outside the base64url alphabet, and padding.
func checkSegment(s string) bool {
	return s != "" && strings.IndexByte(s, '.') < 0 && strings.IndexByte(s, '\n') < 0 && strings.IndexByte(s, '\r') < 0
}

// decodeSegment decodes a segment checked by checkSegment into buf when
// it fits, or a new slice.
func decodeSegment(buf, seg []byte) ([]byte, bool) {
	n := b64.DecodedLen(len(seg))
	if n > len(buf) {
		buf = make([]byte, n)
	}
	n, err := b64.Decode(buf, seg)
	return buf[:n], err == nil
}

// parseHeader reads a protected header. It refuses crit, which names
// extensions that would change how the token must be read (RFC 7515
// §4.1.11), and b64, which changes what the signature covers (RFC 7797);
// latch uses neither. jku, jwk, x5u and x5c are read past and never used:
// keys come only from the issuer's JWKS (RFC 8725 §3.10). A name given
// twice is refused (RFC 7515 §4).
func parseHeader(s string) (header, bool) {
	var h header
	if !utf8.ValidString(s) {
		return h, false
	}
	p := scanner{s: s}
	var seen [3]bool
	ok := p.object(func(name string) bool {
		var dst *string
		var i int
		switch name {
		case "alg":
			dst, i = &h.alg, 0
		case "kid":
			dst, i = &h.kid, 1
		case "typ":
			dst, i = &h.typ, 2
		case "crit", "b64":
			return false
		default:
			return p.skip(1)
		}
		if seen[i] {
			return false
		}
		seen[i] = true
		var ok bool
		*dst, ok = p.str()
		return ok
	})
	return h, ok && p.end()
}

// accessTokenType reports whether typ names an RFC 9068 access token:
// at+jwt, which RFC 7515 §4.1.9 lets senders write with or without the
// application/ prefix and in any case.
func accessTokenType(typ string) bool {
	const want = "at+jwt"
	if len(typ) == len("application/")+len(want) && strings.EqualFold(typ[:len("application/")], "application/") {
		typ = typ[len("application/"):]
	}
	return strings.EqualFold(typ, want)
}

// A key is a public key from the issuer's JWKS, bound to the one algorithm
// its JWK names, so that a token cannot choose how its signature is read
// (RFC 8725 §3.1).
type key struct {
	alg string
	ec  *ecdsa.PublicKey
	ed  ed25519.PublicKey
	rsa *rsa.PublicKey
}

// verify checks sig over the JWS signing input.
func (k *key) verify(input, sig []byte) bool {
	switch k.alg {
	case ES256:
		// JWS carries r||s (RFC 7518 §3.4); crypto/ecdsa wants DER.
		if len(sig) != 64 {
			return false
		}
		var der [72]byte
		h := sha256.Sum256(input)
		return ecdsa.VerifyASN1(k.ec, h[:], ecdsaDER(der[:0], sig))
	case EdDSA:
		return len(sig) == ed25519.SignatureSize && ed25519.Verify(k.ed, input, sig)
	case RS256:
		h := sha256.Sum256(input)
		return rsa.VerifyPKCS1v15(k.rsa, crypto.SHA256, h[:], sig) == nil
	}
	return false
}

// ecdsaDER appends to dst the DER encoding of the ECDSA-Sig-Value
// (RFC 5480 §2.2.3) whose r and s are the two halves of sig. Each half is
// at most 32 bytes, so every length fits in one byte.
func ecdsaDER(dst, sig []byte) []byte {
	half := len(sig) / 2
	r, s := derInt(sig[:half]), derInt(sig[half:])
	dst = append(dst, 0x30, byte(derIntLen(r)+derIntLen(s)))
	dst = appendDERInt(dst, r)
	return appendDERInt(dst, s)
}

// derInt strips leading zero bytes from a big-endian unsigned integer,
// keeping one for zero.
func derInt(b []byte) []byte {
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

// derIntLen is the length of the INTEGER holding b, with its tag and
// length bytes and the zero byte that keeps a set top bit from making the
// number negative.
func derIntLen(b []byte) int {
	return 2 + len(b) + int(b[0]>>7)
}

func appendDERInt(dst, b []byte) []byte {
	dst = append(dst, 0x02, byte(len(b)+int(b[0]>>7)))
	if b[0]&0x80 != 0 {
		dst = append(dst, 0)
	}
	return append(dst, b...)
}
