package recovery

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
)

const (
	// Count is the number of codes New makes.
	Count = 10
	// Length is the number of characters of a code, without its dash.
	Length = 10
	// Bits is the entropy of a code: Length characters drawn uniformly
	// from an alphabet of 32, 5 bits each.
	Bits = 50
)

// alphabet is Crockford's base32 in lower case: the digits and the letters
// but i, l, o and u, so that no two characters are easily confused and
// the ones people confuse them with can be mapped back (see Normalize).
const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// maxInput bounds what Normalize reads, so that a huge body costs nothing;
// a code with a space or a dash between every character is under 30 bytes.
const maxInput = 64

// New returns Count distinct codes from crypto/rand, each Length
// characters in two dashed groups, to be shown to the person once.
func New() ([]string, error) {
	codes := make([]string, 0, Count)
	raw := make([]byte, Length)
	for len(codes) < Count {
		if _, err := rand.Read(raw); err != nil {
			return nil, fmt.Errorf("new recovery codes: %w", err)
		}
		// 256 is a multiple of 32, so the low five bits of a uniform
		// byte are a uniform letter.
		for i, b := range raw {
			raw[i] = alphabet[b&31]
		}
		code := format(string(raw))
		// A repeat has probability 45/2^50; refusing it still makes
		// "ten codes" true rather than nearly true.
		if !slices.Contains(codes, code) {
			codes = append(codes, code)
		}
	}
	return codes, nil
}

// Normalize reads a code as a person typed it and returns it in the form
// New made it ("k7m2q-x9p4w"), or false when it cannot be a code. Letter
// case, white space and dashes (ASCII or typographic, anywhere, any number)
// are ignored, and o, i and l are read as 0, 1 and 1 as Crockford's base32
// does; any other character, or a count of characters other than Length,
// is refused.
func Normalize(input string) (string, bool) {
	if len(input) > maxInput {
		return "", false
	}
	var b [Length]byte
	n := 0
	for _, r := range input {
		switch r {
		case ' ', '\t', '\n', '\r', '\u00a0', '\u202f',
			'-', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2015', '\u2212':
			continue
		case 'o', 'O':
			r = '0'
		case 'i', 'I', 'l', 'L':
			r = '1'
		}
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		if r > 0x7f || strings.IndexByte(alphabet, byte(r)) < 0 || n == Length {
			return "", false
		}
		b[n] = byte(r)
		n++
	}
	if n != Length {
		return "", false
	}
	return format(string(b[:])), true
}

// format puts the dash between the two groups of five.
func format(s string) string {
	return s[:Length/2] + "-" + s[Length/2:]
}

// hashContext separates these hashes from any other HMAC a caller might
// compute under the same key.
const hashContext = "latch recovery code v1\x00"

// Hash returns HMAC-SHA-256 of the code under key, to be stored instead of
// the code and looked up by (a unique index of the factor's hashes). The
// code is normalized first, so Hash of New's output and Hash of what the
// person types agree; input that is no code is hashed as it is, and since
// no code normalizes to it, its hash matches no stored one. key should be a
// key for this purpose only, derived from latch's secret key and kept out
// of the database.
//
// Why a keyed fast hash and not a salted slow one: NIST SP 800-63B §5.1.2.2
// (look-up secret verifiers) asks that look-up secrets be stored in a form
// resistant to offline attacks, and says those under 112 bits be salted and
// hashed with a slow key derivation function; ours have 50 bits. We depart
// from that letter for its purpose: the key is the "secret salt known only
// to the verifier" of §5.1.1.2, so a stolen database alone gives an attacker
// nothing to guess against, which no work factor matches; a slow hash would
// instead cost a password hash per stored code on every try and make the
// lookup by hash impossible. Online guessing is the caller's to bound, as
// §5.1.2.2 requires below 64 bits (in latch the mfa_token dies after five
// wrong answers, which count toward the login throttle). The risk left is
// the key leaking with the database: then 2^50 HMACs per code is within a
// determined attacker's reach, which a key derived per user (so that one
// search cannot cover every account) narrows but does not remove.
func Hash(code string, key []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(hashContext))
	if c, ok := Normalize(code); ok {
		code = c
	}
	mac.Write([]byte(code))
	return mac.Sum(nil)
}
