package password

import (
	"context"
	"runtime"
	"strings"
	"testing"
)

// Run with: go test -run '^$' -bench . -benchmem ./internal/password/
// hashes/s is the figure to size Limits and capacity with.

func BenchmarkHash(b *testing.B) {
	h := newHasher(b, DefaultParams(), Limits{Concurrency: 1})
	ctx := context.Background()
	for b.Loop() {
		if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "hashes/s")
}

func BenchmarkHashParallel(b *testing.B) {
	n := runtime.GOMAXPROCS(0)
	h := newHasher(b, DefaultParams(), Limits{Concurrency: n, Queue: 64 * n})
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "hashes/s")
}

func BenchmarkVerifyDummy(b *testing.B) {
	h := newHasher(b, DefaultParams(), Limits{Concurrency: 1})
	ctx := context.Background()
	for b.Loop() {
		if err := h.VerifyDummy(ctx, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "hashes/s")
}

func BenchmarkPolicyCheck(b *testing.B) {
	p := DefaultPolicy()
	for _, bc := range []struct{ name, pw string }{
		{"ascii", "correct horse battery staple"},
		{"common", "Password1"},
		{"unicode", "cafe\u0301 \uff50\uff41\uff53\uff53 🦊🦊"},
		{"max length", strings.Repeat("ab", 128)},
		// The costliest input TooLong lets through: 4 KiB of combining marks.
		{"worst case", strings.Repeat("\u0301", 256*rawBytesPerRune/2)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.Check(bc.pw, "alice@example.com")
			}
		})
	}
}
