package token

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"sync"
)

// MinSecretLen is the shortest server secret key NewSealer accepts: 256
// bits, the strength of the AES-256 key derived from it.
const MinSecretLen = 32

// sealVersion is the first byte of every sealed value; it names the
// algorithm and key derivation so that a later version can change them and
// still open what this one sealed.
const sealVersion byte = 1

// sealInfo is the HKDF info for the key-encryption key. Changing it makes
// every stored signing key unreadable.
const sealInfo = "latch signing keys v1"

// macInfoPrefix separates MAC keys from the encryption key: no purpose can
// produce sealInfo as its HKDF info.
const macInfoPrefix = "latch mac v1: "

// errUnseal hides why opening failed: tampering, the wrong additional data
// and the wrong secret all look the same to AES-GCM, and should.
var errUnseal = errors.New("token: cannot open sealed value (tampered, sealed for another key id, or under another secret key)")

// Sealer encrypts values at rest under a key derived from the server's
// secret key, and derives keyed MACs from the same secret. It is safe for
// concurrent use. Its String, GoString and LogValue never show key
// material.
type Sealer struct {
	aead cipher.AEAD
	// prk is the HKDF pseudorandom key; every purpose's MAC key is
	// expanded from it.
	prk     []byte
	macKeys sync.Map // purpose string → []byte
}

// NewSealer derives the Sealer's keys from secret (HKDF-SHA256). The secret
// must be at least MinSecretLen bytes of high-entropy material; latch
// generates one when none is configured.
func NewSealer(secret []byte) (*Sealer, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("token: secret key is %d bytes, want at least %d", len(secret), MinSecretLen)
	}
	// No salt: the secret is already uniformly random (RFC 5869 §3.1 allows
	// an absent salt then), and a salt would have to be stored beside it.
	prk, err := hkdf.Extract(sha256.New, secret, nil)
	if err != nil {
		return nil, fmt.Errorf("token: derive keys: %w", err)
	}
	key, err := hkdf.Expand(sha256.New, prk, sealInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("token: derive sealing key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("token: sealing cipher: %w", err)
	}
	// Random 96-bit nonces are safe for far more than the handful of keys
	// latch ever seals (the limit is 2^32 messages per key).
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("token: sealing cipher: %w", err)
	}
	return &Sealer{aead: aead, prk: prk}, nil
}

// Seal encrypts plaintext and binds it to aad (latch passes the key id), so
// that a sealed value copied into another row does not open there. The
// result is a version byte, a random nonce and the AES-256-GCM ciphertext.
func (s *Sealer) Seal(plaintext, aad []byte) ([]byte, error) {
	return s.aead.Seal([]byte{sealVersion}, nil, plaintext, additionalData(aad)), nil
}

// Open decrypts what Seal produced with the same aad. It fails, without
// saying which, if the value was altered, sealed with other aad or under
// another secret key.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	if len(sealed) < 1+s.aead.Overhead() || sealed[0] != sealVersion {
		return nil, errUnseal
	}
	plain, err := s.aead.Open(nil, nil, sealed[1:], additionalData(aad))
	if err != nil {
		return nil, errUnseal
	}
	return plain, nil
}

// additionalData prefixes the version byte so that a value cannot be
// relabelled as another version without failing authentication.
func additionalData(aad []byte) []byte {
	ad := make([]byte, 0, 1+len(aad))
	return append(append(ad, sealVersion), aad...)
}

// MAC returns HMAC-SHA256 of data under a key derived for purpose alone, so
// that a MAC computed for one purpose is worthless for any other. purpose
// should be a constant naming the use (e.g. "refresh-token successor"):
// each distinct purpose keeps a 32-byte key for the life of the Sealer.
func (s *Sealer) MAC(purpose string, data []byte) []byte {
	h := hmac.New(sha256.New, s.macKey(purpose))
	h.Write(data)
	return h.Sum(nil)
}

func (s *Sealer) macKey(purpose string) []byte {
	if k, ok := s.macKeys.Load(purpose); ok {
		return k.([]byte)
	}
	// Expand cannot fail for a 32-byte output of SHA-256 (the limit is
	// 255 blocks).
	k, err := hkdf.Expand(sha256.New, s.prk, macInfoPrefix+purpose, 32)
	if err != nil {
		panic("token: hkdf expand: " + err.Error())
	}
	actual, _ := s.macKeys.LoadOrStore(purpose, k)
	return actual.([]byte)
}

// String keeps the keys out of fmt output.
func (s *Sealer) String() string { return "token.Sealer{[REDACTED]}" }

// GoString keeps the keys out of %#v output.
func (s *Sealer) GoString() string { return s.String() }

// LogValue keeps the keys out of slog output.
func (s *Sealer) LogValue() slog.Value { return slog.StringValue(s.String()) }
