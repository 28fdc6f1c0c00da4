package totp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"hash"
	"strings"
	"time"
)

// The parameters of latch's codes (DESIGN.md): the defaults of RFC 6238 and
// of the Key Uri Format, which every authenticator app supports.
const (
	// Digits is the length of a code.
	Digits = 6
	// Period is the length of a time step, in seconds from the Unix epoch.
	Period = 30
	// Skew is how many steps before or after the current one Verify accepts
	// (RFC 6238 §5.2 recommends at most one for network delay).
	Skew = 1
	// SecretSize is the length of a secret in bytes: 160 bits, the length
	// RFC 4226 §4 recommends and the size of an HMAC-SHA-1 block's key.
	SecretSize = 20
)

// maxCodeInput bounds the input Verify looks at, so that a huge body costs
// nothing: a code with a space between each digit is 11 bytes.
const maxCodeInput = 64

// b32 is the base32 of RFC 4648 without padding, the form the Key Uri Format
// and authenticator apps' manual entry use.
var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewSecret returns a new random secret of SecretSize bytes from
// crypto/rand.
func NewSecret() ([]byte, error) {
	secret := make([]byte, SecretSize)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("new totp secret: %w", err)
	}
	return secret, nil
}

// Encode returns the secret in base32 (RFC 4648) without padding, upper
// case, as the otpauth URI carries it and an app's manual entry expects it.
func Encode(secret []byte) string {
	return b32.EncodeToString(secret)
}

// EncodeGrouped returns Encode's text in groups of four characters separated
// by spaces ("JBSW Y3DP EHPK 3PXP"), for a person who types the secret into
// an app by hand; the apps ignore the spaces.
func EncodeGrouped(secret []byte) string {
	s := Encode(secret)
	var b strings.Builder
	b.Grow(len(s) + len(s)/4)
	for i := 0; i < len(s); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i:min(i+4, len(s))])
	}
	return b.String()
}

// Step returns the time step of t: the number of whole periods since the
// Unix epoch (RFC 6238 §4.2, T0 = 0, X = 30), rounded down also before 1970.
func Step(t time.Time) int64 {
	s := t.Unix()
	step := s / Period
	if s%Period < 0 {
		step--
	}
	return step
}

// Code returns the code of secret for the time step step, Digits decimal
// digits with leading zeros.
func Code(secret []byte, step int64) string {
	return code(sha1.New, secret, step, Digits)
}

// Verify reports whether code is the code of secret for the step of now or
// a step at most Skew away, and returns the step it matched. Steps at or
// below lastStep are refused, so that a code once accepted (and any older
// code) cannot be replayed: the caller stores the returned step as the
// factor's new lastStep. A factor that never accepted a code passes 0.
//
// Spaces in code are ignored ("123 456"); anything else that is not
// Digits ASCII digits is refused. The comparison is in constant time, and
// when two steps' codes happen to be equal the later step is returned, so
// that neither can be used again.
func Verify(secret []byte, code string, now time.Time, lastStep int64) (step int64, ok bool) {
	if len(secret) == 0 || len(code) > maxCodeInput {
		return 0, false
	}
	var digits [Digits]byte
	n := 0
	for i := 0; i < len(code); i++ {
		c := code[i]
		switch {
		case c == ' ':
			continue
		case c < '0' || c > '9' || n == Digits:
			return 0, false
		}
		digits[n] = c
		n++
	}
	if n != Digits {
		return 0, false
	}
	current := Step(now)
	for s := current - Skew; s <= current+Skew; s++ {
		if s <= lastStep {
			continue
		}
		want := Code(secret, s)
		if subtle.ConstantTimeCompare(digits[:], []byte(want)) == 1 {
			step, ok = s, true
		}
	}
	return step, ok
}

// code is HOTP (RFC 4226 §5.3) of the step as the 8-byte big-endian counter,
// with the hash and the number of digits as parameters so that the tests can
// check RFC 6238's SHA-256, SHA-512 and 8-digit vectors.
func code(h func() hash.Hash, secret []byte, step int64, digits int) string {
	var counter [8]byte
	binary.BigEndian.PutUint64(counter[:], uint64(step))
	mac := hmac.New(h, secret)
	mac.Write(counter[:])
	sum := mac.Sum(nil)
	// Dynamic truncation: the low four bits of the last byte choose where
	// the 31-bit value starts.
	offset := sum[len(sum)-1] & 0x0f
	value := binary.BigEndian.Uint32(sum[offset:offset+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, value%mod)
}
