package token

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"unicode/utf8"
)

// The compact JWS (RFC 7515 §7.1) is read and written here with the
// standard library alone. go-jose parsed every header several times and
// allocated about 10 KB per token, which made Verify cost 1.5 to 1.8 times
// the signature check; latch reads three header members and one shape of
// token, so a dedicated path is both faster and easier to audit.

// b64url is the only encoding a JWS segment may use: base64url without
// padding (RFC 7515 §2). Its decoder is lax about newlines and trailing
// bits, so splitCompact checks the text before anything is decoded.
var b64url = base64.RawURLEncoding

// es256Size is an ES256 signature's length: R and S as 32-byte big-endian
// integers, concatenated (RFC 7518 §3.4), not the ASN.1 DER that
// crypto/ecdsa speaks.
const es256Size = 64

// maxHeaderMembers bounds the members of a protected header. latch writes
// three; the bound keeps the duplicate check's quadratic scan trivial
// whatever an attacker sends.
const maxHeaderMembers = 16

// protectedHeader encodes the header Issue writes for key kid: alg, kid and
// typ at+jwt (RFC 9068 §2.1), base64url-encoded and followed by the dot
// that ends the segment, ready to prefix every token the key signs.
func protectedHeader(alg, kid string) (string, error) {
	b, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{alg, kid, "at+jwt"})
	if err != nil {
		return "", fmt.Errorf("encode header: %w", err)
	}
	return b64url.EncodeToString(b) + ".", nil
}

// sigSize is the length of every signature k makes and Verify accepts.
func sigSize(pub crypto.PublicKey) int {
	if k, ok := pub.(*rsa.PublicKey); ok {
		return k.Size()
	}
	// ES256 and Ed25519 signatures are both 64 bytes.
	return es256Size
}

// sign signs a JWS signing input with k's private key by k's algorithm.
func (k *signingKey) sign(input []byte) ([]byte, error) {
	switch p := k.priv.(type) {
	case *ecdsa.PrivateKey:
		h := sha256.Sum256(input)
		// Since Go 1.26 the reader is ignored and the system's CSPRNG
		// always used; rand.Reader says what is meant either way.
		r, s, err := ecdsa.Sign(rand.Reader, p, h[:])
		if err != nil {
			return nil, err
		}
		return es256Signature(r, s), nil
	case ed25519.PrivateKey:
		return ed25519.Sign(p, input), nil
	case *rsa.PrivateKey:
		h := sha256.Sum256(input)
		// PKCS #1 v1.5 signing is deterministic: no randomness to pass.
		return rsa.SignPKCS1v15(nil, p, crypto.SHA256, h[:])
	}
	return nil, fmt.Errorf("no signer for a %T", k.priv)
}

// es256Signature writes r and s left-padded to 32 bytes each: a value with
// leading zero bytes (one signature in 256) keeps its full width, since a
// verifier splits the signature in the middle.
func es256Signature(r, s *big.Int) []byte {
	sig := make([]byte, es256Size)
	r.FillBytes(sig[:es256Size/2])
	s.FillBytes(sig[es256Size/2:])
	return sig
}

// verify checks sig over a JWS signing input with k's public key. The
// caller has checked that sig is sigSize bytes long.
//
// ES256 signatures are accepted with S in either half of the group order.
// ECDSA lets anyone who holds a valid signature (r, s) make a second one,
// (r, n−s), so a token has two valid texts. JOSE does not ask for low S
// (RFC 7518 §3.4), Go's ecdsa.Sign and every JOSE library make either
// form, and the verifiers of latch's tokens elsewhere (jwx, go-jose, ...)
// accept both, so refusing the twin here would protect nothing; latch
// never identifies a token by its text (revocation goes by sid), so the
// twin gives an attacker nothing the original did not.
func (k *signingKey) verify(input, sig []byte) bool {
	switch pub := k.public.(type) {
	case *ecdsa.PublicKey:
		h := sha256.Sum256(input)
		r := new(big.Int).SetBytes(sig[:es256Size/2])
		s := new(big.Int).SetBytes(sig[es256Size/2:])
		// Verify refuses r or s that is zero or not below the group order.
		return ecdsa.Verify(pub, h[:], r, s)
	case ed25519.PublicKey:
		return ed25519.Verify(pub, input, sig)
	case *rsa.PublicKey:
		h := sha256.Sum256(input)
		return rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig) == nil
	}
	return false
}

// header is what Verify reads from a protected header. The byte slices
// point into the decoded header.
type header struct {
	alg, kid, typ []byte
	// crit and b64 are present: latch understands no extension
	// (RFC 7515 §4.1.11), and b64 would change what the signature covers
	// (RFC 7797).
	crit, b64 bool
}

// parseHeader reads a protected header as strictly as go-jose's parser
// did: a JSON object whose member names are compared case-sensitively and
// never repeated (RFC 7515 §4 allows refusing them; RFC 8259 §4 warns that
// parsers disagree about which of two members counts), with alg, kid and
// typ strings when present. Every other
// member, jwk, jku, x5c and x5u included, is skipped unread: keys are
// found by kid alone.
func parseHeader(b []byte) (header, error) {
	var h header
	var names [maxHeaderMembers][]byte
	n := 0
	err := eachMember(b, func(name, v []byte) error {
		if n == len(names) {
			return fmt.Errorf("more than %d members", maxHeaderMembers)
		}
		for _, prev := range names[:n] {
			if bytes.Equal(prev, name) {
				return fmt.Errorf("member %.32q appears twice", name)
			}
		}
		names[n] = name
		n++
		var err error
		switch string(name) {
		case "alg":
			h.alg, err = stringValue(v)
		case "kid":
			h.kid, err = stringValue(v)
		case "typ":
			h.typ, err = stringValue(v)
		case "crit":
			h.crit = true
		case "b64":
			h.b64 = true
		}
		if err != nil {
			return fmt.Errorf("member %s: %w", name, err)
		}
		return nil
	})
	if err != nil {
		return header{}, fmt.Errorf("header: %w", err)
	}
	return h, nil
}

// eachMember calls fn with the name and the raw value of every member of
// the JSON object b, in order, and stops at fn's first error. The name is
// unescaped; both may point into b.
func eachMember(b []byte, fn func(name, value []byte) error) error {
	// With the whole text known to be valid JSON, the walk only has to
	// find member boundaries: it cannot meet a malformed string or an
	// unbalanced bracket.
	if !json.Valid(b) {
		return errors.New("not JSON")
	}
	i := skipSpace(b, 0)
	if b[i] != '{' {
		return errors.New("not a JSON object")
	}
	if i = skipSpace(b, i+1); b[i] == '}' {
		return nil
	}
	for {
		end := stringEnd(b, i)
		name, err := jsonString(b[i:end])
		if err != nil {
			return err
		}
		i = skipSpace(b, skipSpace(b, end)+1) // past the colon
		end = valueEnd(b, i)
		if err := fn(name, b[i:end]); err != nil {
			return err
		}
		if i = skipSpace(b, end); b[i] == '}' {
			return nil
		}
		i = skipSpace(b, i+1) // past the comma
	}
}

// The helpers below walk JSON that json.Valid has accepted (a value
// eachMember hands out is such JSON too), so they index without bounds
// checks of their own: every string closes and every bracket is matched
// before the end of b.

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index after the closing quote of the string
// starting at b[i].
func stringEnd(b []byte, i int) int {
	for i++; b[i] != '"'; i++ {
		if b[i] == '\\' {
			// The escaped character cannot be a closing quote; \uXXXX
			// continues with hex digits, which are skipped one by one.
			i++
		}
	}
	return i + 1
}

// valueEnd returns the index after the value starting at b[i].
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for {
			switch b[i] {
			case '"':
				i = stringEnd(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
	}
	// A number, true, false or null runs to the next delimiter.
	for ; i < len(b); i++ {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
	}
	return i
}

// jsonString returns the contents of the quoted JSON string s, as
// encoding/json would. Strings without escapes and in valid UTF-8, all
// that latch writes, are returned in place.
func jsonString(s []byte) ([]byte, error) {
	if bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
		return s[1 : len(s)-1], nil
	}
	var out string
	if err := json.Unmarshal(s, &out); err != nil {
		return nil, err
	}
	return []byte(out), nil
}

// stringValue is jsonString for a member value, which may be of any type.
func stringValue(v []byte) ([]byte, error) {
	if v[0] != '"' {
		return nil, errors.New("not a string")
	}
	return jsonString(v)
}

// stringArray reads a JSON array of strings.
func stringArray(v []byte) ([]string, error) {
	if v[0] != '[' {
		return nil, errors.New("not an array of strings")
	}
	l := []string{}
	for i := skipSpace(v, 1); v[i] != ']'; {
		if v[i] != '"' {
			return nil, errors.New("not an array of strings")
		}
		end := stringEnd(v, i)
		s, err := jsonString(v[i:end])
		if err != nil {
			return nil, err
		}
		l = append(l, string(s))
		if i = skipSpace(v, end); v[i] == ',' {
			i = skipSpace(v, i+1)
		}
	}
	return l, nil
}

// accessTokenType accepts typ at+jwt, which RFC 7515 §4.1.9 lets senders
// write with or without the "application/" prefix and in any case. Media
// types are ASCII, so the comparison folds ASCII letters only: no Unicode
// look-alike passes.
func accessTokenType(typ []byte) bool {
	const prefix = "application/"
	if len(typ) > len(prefix) && asciiEqualFold(typ[:len(prefix)], prefix) {
		typ = typ[len(prefix):]
	}
	return asciiEqualFold(typ, "at+jwt")
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// splitCompact accepts exactly three non-empty segments of canonical
// unpadded base64url and returns the positions of the two dots. Go's
// decoder would also take newlines and non-zero trailing bits, so that
// many strings would carry one signature; refusing them keeps the
// encoding of each signed header, payload and signature unique.
func splitCompact(raw string) (dot1, dot2 int, err error) {
	names := [...]string{"header", "payload", "signature"}
	var dots [len(names)]int
	seg, start := 0, 0
	for i := 0; i <= len(raw); i++ {
		if i < len(raw) && raw[i] != '.' {
			if !isB64URL(raw[i]) {
				return 0, 0, fmt.Errorf("byte %d is not base64url", i)
			}
			continue
		}
		if seg == len(names) {
			return 0, 0, errors.New("more than three segments")
		}
		if !canonicalSegment(raw[start:i]) {
			return 0, 0, fmt.Errorf("%s is empty or not canonical base64url", names[seg])
		}
		dots[seg] = i
		seg, start = seg+1, i+1
	}
	if seg != len(names) {
		return 0, 0, fmt.Errorf("%d segments, want 3", seg)
	}
	return dots[0], dots[1], nil
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

// decodeInto decodes the canonical segment s into buf when it fits, so
// that small segments need no allocation.
func decodeInto(buf, s []byte) ([]byte, error) {
	if n := b64url.DecodedLen(len(s)); n > len(buf) {
		buf = make([]byte, n)
	}
	n, err := b64url.Decode(buf, s)
	return buf[:n], err
}
