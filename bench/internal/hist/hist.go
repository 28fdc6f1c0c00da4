// Package hist is a fixed-size, lock-free latency histogram for the load
// generator: every virtual user records into one shared Histogram, so
// memory stays bounded (about 90 KiB) however long a run lasts, and
// quantiles are exact to 1 µs below 1 ms and within 0.2% above.
//
// It owns the bucket layout only; it knows nothing about HTTP or latch.
package hist

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Values below linear are kept exactly (one bucket per microsecond); above
// it, each power of two is split into half as many buckets, so the
// relative error stays under 1/512.
const (
	linear  = 1024
	perStep = linear / 2
	// maxExp bounds the largest recordable value to about 2^31 µs (36
	// minutes); anything longer is clamped, and a load run never waits
	// that long for one request.
	maxExp  = 21
	buckets = linear + maxExp*perStep
)

// A Histogram counts durations in microsecond buckets. The zero value is
// ready to use and safe for concurrent Record calls.
type Histogram struct {
	counts [buckets]atomic.Uint64
	n      atomic.Uint64
	max    atomic.Int64 // microseconds
}

func index(us uint64) int {
	if us < linear {
		return int(us)
	}
	e := bits.Len64(us) - 10 // shift that leaves a 10-bit mantissa in [512, 1023]
	if e > maxExp {
		return buckets - 1
	}
	m := us >> e
	return linear + (e-1)*perStep + int(m-perStep)
}

// upper returns the largest value that lands in bucket i, in
// microseconds; quantiles report it, as HdrHistogram does, so that a
// quantile never understates a latency.
func upper(i int) uint64 {
	if i < linear {
		return uint64(i)
	}
	e := (i-linear)/perStep + 1
	m := uint64((i-linear)%perStep + perStep)
	return (m+1)<<e - 1
}

// Record adds one duration; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	us := max(d.Microseconds(), 0)
	h.counts[index(uint64(us))].Add(1)
	h.n.Add(1)
	for {
		old := h.max.Load()
		if us <= old || h.max.CompareAndSwap(old, us) {
			break
		}
	}
}

// Count returns how many durations were recorded.
func (h *Histogram) Count() uint64 { return h.n.Load() }

// Max returns the largest duration recorded, exactly.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max.Load()) * time.Microsecond }

// Quantile returns the smallest recorded bucket value v such that at least
// q (0 < q ≤ 1) of the recorded durations are ≤ v, never more than Max.
// It is 0 for an empty histogram. It must not run concurrently with
// Record if an exact answer is wanted.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(q * float64(n))
	if float64(rank) < q*float64(n) {
		rank++
	}
	rank = max(rank, 1)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return min(time.Duration(upper(i))*time.Microsecond, h.Max())
		}
	}
	return h.Max()
}

// Merge adds every count of o into h. o must not be recorded into
// meanwhile.
func (h *Histogram) Merge(o *Histogram) {
	for i := range o.counts {
		if c := o.counts[i].Load(); c > 0 {
			h.counts[i].Add(c)
		}
	}
	h.n.Add(o.n.Load())
	for {
		old, us := h.max.Load(), o.max.Load()
		if us <= old || h.max.CompareAndSwap(old, us) {
			break
		}
	}
}
