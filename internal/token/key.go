package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/latchauth/latch/internal/store"
)

// The signing algorithms latch can be configured with (RFC 7518 §3.1 and
// RFC 8037 names).
const (
	ES256 = "ES256" // ECDSA P-256 with SHA-256: the default
	EdDSA = "EdDSA" // Ed25519
	RS256 = "RS256" // RSASSA-PKCS1-v1_5 with SHA-256, 3072-bit keys
)

// rsaBits follows NIST SP 800-57: 3072 bits match the 128-bit strength of
// the other two algorithms.
const rsaBits = 3072

// minRSABits is the smallest RSA key latch loads from the store; RFC 7518
// §3.3 forbids smaller ones.
const minRSABits = 2048

// kidLen is the length of a kid: an unpadded base64url SHA-256 (32 bytes).
const kidLen = 43

// signingKey is a loaded key: parsed once per kid, then shared read-only by
// every Issue and Verify.
type signingKey struct {
	id     string
	alg    string
	public crypto.PublicKey // *ecdsa.PublicKey, ed25519.PublicKey or *rsa.PublicKey
	jwk    jose.JSONWebKey  // public part as published, with kid, alg and use
	priv   crypto.Signer
	// header is the encoded protected header and its dot: the first
	// segment of every token the key signs, built once per key.
	header string
	// sigSize is the exact length of the key's signatures.
	sigSize int
}

func validAlg(alg string) bool {
	return alg == ES256 || alg == EdDSA || alg == RS256
}

func generatePrivate(alg string) (crypto.Signer, error) {
	switch alg {
	case ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	case RS256:
		return rsa.GenerateKey(rand.Reader, rsaBits)
	}
	return nil, fmt.Errorf("token: unsupported signing algorithm %q", alg)
}

// newStoredKey generates a key of alg and returns it as the store keeps it:
// the public part as a JWK, the private part PKCS#8-encoded and sealed
// with its kid as additional data. State and activation are the caller's.
//
// The kid is the RFC 7638 thumbprint of the public key rather than a
// random id: it is derived, so it cannot collide or be chosen, and loading
// a key checks that the unsealed private key, the stored public key and
// the kid all agree, which catches a row whose parts were swapped.
func newStoredKey(alg string, sealer *Sealer, now time.Time) (store.SigningKey, error) {
	priv, err := generatePrivate(alg)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("generate %s key: %w", alg, err)
	}
	jwk := jose.JSONWebKey{Key: priv.Public(), Algorithm: alg, Use: "sig"}
	kid, err := thumbprint(jwk)
	if err != nil {
		return store.SigningKey{}, err
	}
	jwk.KeyID = kid
	pub, err := json.Marshal(jwk)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("encode public key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("encode private key: %w", err)
	}
	sealed, err := sealer.Seal(der, []byte(kid))
	clear(der)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("seal private key: %w", err)
	}
	return store.SigningKey{
		ID:        kid,
		Algorithm: alg,
		SealedKey: sealed,
		PublicKey: pub,
		CreatedAt: now.UTC(),
	}, nil
}

func thumbprint(jwk jose.JSONWebKey) (string, error) {
	t, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("key thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(t), nil
}

// loadKey unseals and parses a stored key and checks that its kid is the
// thumbprint of both its private and its stored public key.
func loadKey(sk store.SigningKey, sealer *Sealer) (*signingKey, error) {
	if !validAlg(sk.Algorithm) {
		return nil, fmt.Errorf("unsupported algorithm %q", sk.Algorithm)
	}
	der, err := sealer.Open(sk.SealedKey, []byte(sk.ID))
	if err != nil {
		return nil, err
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	clear(der)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	priv, err := checkPrivate(sk.Algorithm, parsed)
	if err != nil {
		return nil, err
	}
	jwk := jose.JSONWebKey{Key: priv.Public(), KeyID: sk.ID, Algorithm: sk.Algorithm, Use: "sig"}
	kid, err := thumbprint(jwk)
	if err != nil {
		return nil, err
	}
	if kid != sk.ID {
		return nil, errors.New("kid is not the thumbprint of the private key")
	}
	var stored jose.JSONWebKey
	if err := stored.UnmarshalJSON(sk.PublicKey); err != nil {
		return nil, fmt.Errorf("parse stored public key: %w", err)
	}
	if t, err := thumbprint(stored); err != nil || t != kid {
		return nil, errors.New("stored public key does not match the private key")
	}
	header, err := protectedHeader(sk.Algorithm, sk.ID)
	if err != nil {
		return nil, err
	}
	return &signingKey{
		id:      sk.ID,
		alg:     sk.Algorithm,
		public:  priv.Public(),
		jwk:     jwk,
		priv:    priv,
		header:  header,
		sigSize: sigSize(priv.Public()),
	}, nil
}

// checkPrivate makes sure the key is of the kind its algorithm needs, so a
// row that says ES256 but holds an RSA key is refused rather than used.
func checkPrivate(alg string, k any) (crypto.Signer, error) {
	switch alg {
	case ES256:
		if p, ok := k.(*ecdsa.PrivateKey); ok && p.Curve == elliptic.P256() {
			return p, nil
		}
	case EdDSA:
		if p, ok := k.(ed25519.PrivateKey); ok {
			return p, nil
		}
	case RS256:
		if p, ok := k.(*rsa.PrivateKey); ok && p.N.BitLen() >= minRSABits {
			return p, nil
		}
	}
	return nil, fmt.Errorf("private key of type %T does not fit algorithm %s", k, alg)
}

// plausibleKid reports whether kid could be one of latch's thumbprints, so
// that a token with a made-up kid never makes latch read the store.
func plausibleKid(kid string) bool {
	if len(kid) != kidLen {
		return false
	}
	for i := 0; i < len(kid); i++ {
		if !isB64URL(kid[i]) {
			return false
		}
	}
	return true
}

func isB64URL(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// jwksDocument encodes the published keys once per key set.
func jwksDocument(keys []*signingKey) ([]byte, error) {
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(keys))}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.jwk)
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("encode jwks: %w", err)
	}
	return b, nil
}
