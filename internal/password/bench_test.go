package password

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
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
	hashParallel(b, h)
}

// hashParallel hashes on every GOMAXPROCS goroutine for b's run and
// reports the rate.
func hashParallel(b *testing.B, h *Hasher) {
	b.Helper()
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

// BenchmarkHashParallelMemory is BenchmarkHashParallel with and without
// the soft memory limit and guard that latch serve applies at this many
// slots: what the guard's collections cost in hashes/s and in CPU time
// per hash (which other work on a shared machine moves far less), and the
// peak RSS of the process while hashing (VmHWM, reset before each run;
// Linux).
func BenchmarkHashParallelMemory(b *testing.B) {
	n := runtime.GOMAXPROCS(0)
	for _, bc := range []struct {
		name  string
		limit int64
	}{
		{"limit=none", 0},
		{"limit=derived", MemoryLimitFor(n, DefaultParams())},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := newHasher(b, DefaultParams(), Limits{Concurrency: n, Queue: 64 * n, Memory: bc.limit})
			if bc.limit > 0 {
				defer debug.SetMemoryLimit(debug.SetMemoryLimit(bc.limit))
			}
			runtime.GC()
			resetPeak := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
			cpu0 := cpuTime()
			hashParallel(b, h)
			if cpu := cpuTime() - cpu0; cpu > 0 {
				b.ReportMetric(cpu.Seconds()*1000/float64(b.N), "cpu-ms/op")
			}
			b.ReportMetric(float64(h.Stats().Collections)/float64(b.N), "collections/op")
			if peak, ok := peakRSS(); ok && resetPeak {
				b.ReportMetric(peak, "peak-RSS-MiB")
			}
		})
	}
}

// peakRSS reads this process's VmHWM in MiB.
func peakRSS() (float64, bool) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return kb / 1024, err == nil
		}
	}
	return 0, false
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
