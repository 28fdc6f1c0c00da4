package verify

import (
	"context"
	"encoding/json"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/latchauth/latch/internal/clocktest"
	"github.com/latchauth/latch/internal/jwstest"
)

var benchAlgs = []string{ES256, EdDSA, RS256}

// benchToken is a latch-shaped token signed by a fresh key for alg, with
// a Verifier that trusts the key.
func benchToken(b *testing.B, alg string) (*Verifier, *testKey, string) {
	b.Helper()
	k := newKey(b, alg, "bench")
	f := newFakeIssuer(b, k)
	v := startVerifier(b, f, clocktest.New(t0), nil)
	return v, k, k.sign(b, f.claims(map[string]any{"scope": "read:things write:things"}), nil)
}

// BenchmarkVerify is the whole per-request cost: parsing, key lookup,
// signature, claims. Compare it with BenchmarkRawSignatureCheck.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(alg, func(b *testing.B) {
			v, _, raw := benchToken(b, alg)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRawSignatureCheck is the floor: only the hash and signature
// check of the standard library over the same signing input, with the
// signature already decoded (and, for ES256, already in DER).
func BenchmarkRawSignatureCheck(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(alg, func(b *testing.B) {
			_, k, raw := benchToken(b, alg)
			check, err := jwstest.RawVerifier(k.priv.Public(), raw)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if !check() {
					b.Fatal("signature does not verify")
				}
			}
		})
	}
}

// BenchmarkGoJose is what Verify would cost built on go-jose: parse and
// verify with go-jose, decode the claims with encoding/json. It is the
// figure the hand-written parser is measured against.
func BenchmarkGoJose(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(alg, func(b *testing.B) {
			_, k, raw := benchToken(b, alg)
			algs := []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)}
			pub := k.priv.Public()
			b.ReportAllocs()
			for b.Loop() {
				jws, err := jose.ParseSignedCompact(raw, algs)
				if err != nil {
					b.Fatal(err)
				}
				payload, err := jws.Verify(pub)
				if err != nil {
					b.Fatal(err)
				}
				var c oracleClaims
				if err := json.Unmarshal(payload, &c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
