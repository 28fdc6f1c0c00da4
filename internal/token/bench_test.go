package token

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/jwstest"
)

func BenchmarkIssue(b *testing.B) {
	for _, alg := range algs {
		b.Run(alg, func(b *testing.B) {
			fx := newFixture(b, alg)
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := fx.m.Issue(signInClaims); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerify is a token's first verification: the memo of verified
// tokens is emptied before each one.
func BenchmarkVerify(b *testing.B) { benchVerify(b, true) }

// BenchmarkVerifyRepeat is every later verification of the same token, as
// when a client sends it with each request: the memo spares the signature
// check.
func BenchmarkVerifyRepeat(b *testing.B) { benchVerify(b, false) }

// benchVerify times Verify of one issued token per algorithm, emptying
// the memo of verified tokens before each call when first is set.
func benchVerify(b *testing.B, first bool) {
	ctx := context.Background()
	forEachIssued(b, func(b *testing.B, fx *fixture, raw string) {
		b.ReportAllocs()
		for b.Loop() {
			if first {
				fx.m.verified.reset()
			}
			if _, err := fx.m.Verify(ctx, raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRawVerify is the floor under BenchmarkVerify: the signature
// check alone, with the standard library, on the same signing input
// (hashing included), so that Verify's overhead can be read as a ratio.
func BenchmarkRawVerify(b *testing.B) {
	forEachIssued(b, func(b *testing.B, fx *fixture, raw string) {
		verify := rawVerifier(b, fx, raw)
		b.ReportAllocs()
		for b.Loop() {
			if !verify() {
				b.Fatal("signature does not verify")
			}
		}
	})
}

// BenchmarkVerifyOverhead reports Verify's time over the bare signature
// check's as "verify/raw", timing the two in alternation: on a shared
// machine the load drifts between two benchmarks run one after the other
// by more than the overhead being measured, while alternation keeps both
// under the same conditions.
func BenchmarkVerifyOverhead(b *testing.B) {
	ctx := context.Background()
	forEachIssued(b, func(b *testing.B, fx *fixture, raw string) {
		verify := rawVerifier(b, fx, raw)
		var full, bare time.Duration
		for b.Loop() {
			fx.m.verified.reset()
			t0 := time.Now()
			if _, err := fx.m.Verify(ctx, raw); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if !verify() {
				b.Fatal("signature does not verify")
			}
			full, bare = full+t1.Sub(t0), bare+time.Since(t1)
		}
		b.ReportMetric(float64(full)/float64(bare), "verify/raw")
	})
}

// forEachIssued runs bench, as a sub-benchmark per algorithm, on a fresh
// fixture and a token it issued for signInClaims.
func forEachIssued(b *testing.B, bench func(b *testing.B, fx *fixture, raw string)) {
	for _, alg := range algs {
		b.Run(alg, func(b *testing.B) {
			fx := newFixture(b, alg)
			raw, _ := mustIssue(b, fx.m, signInClaims)
			bench(b, fx, raw)
		})
	}
}

// rawVerifier returns the standard library's check of raw's signature,
// with the public key and signature decoded beforehand.
func rawVerifier(b *testing.B, fx *fixture, raw string) func() bool {
	b.Helper()
	verify, err := jwstest.RawVerifier(fx.current().public, raw)
	if err != nil {
		b.Fatal(err)
	}
	return verify
}

// BenchmarkRawSign is the floor under BenchmarkIssue.
func BenchmarkRawSign(b *testing.B) {
	forEachIssued(b, func(b *testing.B, fx *fixture, raw string) {
		input := []byte(raw[:strings.LastIndexByte(raw, '.')])
		priv := fx.current().priv
		b.ReportAllocs()
		for b.Loop() {
			var err error
			switch k := priv.(type) {
			case ed25519.PrivateKey:
				_ = ed25519.Sign(k, input)
			default:
				h := sha256.Sum256(input)
				_, err = priv.Sign(nil, h[:], crypto.SHA256)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkJWKS: the document is encoded once per key set, not per call.
func BenchmarkJWKS(b *testing.B) {
	fx := newFixture(b, ES256)
	b.ReportAllocs()
	for b.Loop() {
		_ = fx.m.JWKS()
	}
}
