package password

import (
	"context"
	"fmt"
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

// BenchmarkRangeCount parses a padded range answer of the real service's
// size (some 800 lines, 40 KB) for a suffix it does not hold, the usual
// case: the whole answer is scanned with constant-time comparisons, as for
// every lookup.
func BenchmarkRangeCount(b *testing.B) {
	body := []byte(benchRangeAnswer(40 << 10))
	suffix := []byte(upperSHA1(cleanPW)[5:])
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, n := rangeCount(body, suffix); n == 0 {
			b.Fatal("no entries parsed")
		}
	}
}

// benchRangeAnswer returns CRLF-separated SUFFIX:COUNT lines totalling at
// least size bytes, one in five of them padding.
func benchRangeAnswer(size int) string {
	var sb strings.Builder
	for i := 0; sb.Len() < size; i++ {
		if i > 0 {
			sb.WriteString("\r\n")
		}
		h := upperSHA1(fmt.Sprint("bench ", i))
		count := i%4000 + 1
		if i%5 == 0 {
			count = 0
		}
		fmt.Fprintf(&sb, "%s:%d", h[5:], count)
	}
	return sb.String()
}
