package jwstest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"math/big"
	"strings"
)

// Encode is the unpadded base64url of b, as every JWS segment is written
// (RFC 7515 §2).
func Encode(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// Compact joins the encoded header and payload into a signing input and
// appends the encoded signature that sign makes of it.
func Compact(header, payload []byte, sign func(input []byte) []byte) string {
	input := Encode(header) + "." + Encode(payload)
	return input + "." + Encode(sign([]byte(input)))
}

// Sign is the JWS signature of input by priv (RFC 7518 §3.3 and §3.4,
// RFC 8037 §3.1), in the algorithm its type implies: RS256 for an RSA
// key, ES256 (r and s, 32 bytes each) for a P-256 key, EdDSA for Ed25519.
func Sign(priv crypto.Signer, input []byte) ([]byte, error) {
	h := sha256.Sum256(input)
	switch k := priv.(type) {
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, h[:])
		if err != nil {
			return nil, err
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return sig, nil
	case ed25519.PrivateKey:
		return ed25519.Sign(k, input), nil
	case *rsa.PrivateKey:
		return rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, h[:])
	}
	return nil, fmt.Errorf("jwstest: no JWS algorithm for a %T", priv)
}

// HMAC returns a signer that computes HMAC-SHA-256 keyed with secret:
// what an attacker signs with when it passes a public key off as an HMAC
// secret.
func HMAC(secret []byte) func(input []byte) []byte {
	return func(input []byte) []byte {
		h := hmac.New(sha256.New, secret)
		h.Write(input)
		return h.Sum(nil)
	}
}

// RawVerifier returns the standard library's check of the signature of
// the compact JWS raw under pub, with the signature decoded (and, for
// ES256, turned into ASN.1 DER) beforehand: only the hash and the check
// are left, which is the floor under any JWS verifier's cost.
func RawVerifier(pub crypto.PublicKey, raw string) (func() bool, error) {
	dot := strings.LastIndexByte(raw, '.')
	input := []byte(raw[:dot])
	sig, err := base64.RawURLEncoding.DecodeString(raw[dot+1:])
	if err != nil {
		return nil, err
	}
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		der, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])})
		if err != nil {
			return nil, err
		}
		return func() bool {
			h := sha256.Sum256(input)
			return ecdsa.VerifyASN1(pub, h[:], der)
		}, nil
	case ed25519.PublicKey:
		return func() bool { return ed25519.Verify(pub, input, sig) }, nil
	case *rsa.PublicKey:
		return func() bool {
			h := sha256.Sum256(input)
			return rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig) == nil
		}, nil
	}
	return nil, fmt.Errorf("jwstest: no raw verifier for a %T", pub)
}
