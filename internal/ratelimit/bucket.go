package ratelimit

import (
	"sync"
	"time"
)

// Buckets is an in-memory token bucket per key (a client address), in
// front of the database-backed throttle: it turns a flood from one
// address away before it costs a query or a hash. It is per instance on
// purpose; the shared limits live in the store.
type Buckets struct {
	rate  float64 // tokens per second
	burst float64
	now   func() time.Time
	max   int // keys kept at most; bounds memory under a flood of addresses

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// NewBuckets allows each key rate requests a second with bursts of burst.
func NewBuckets(rate float64, burst int, now func() time.Time) *Buckets {
	if now == nil {
		now = time.Now
	}
	return &Buckets{rate: rate, burst: float64(burst), now: now, max: 100_000, buckets: map[string]*bucket{}}
}

// Allow takes a token for key. When none is left it reports how long
// until one is.
func (b *Buckets) Allow(key string) (ok bool, retryAfter time.Duration) {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	bk, found := b.buckets[key]
	if !found {
		if len(b.buckets) >= b.max {
			b.evict(now)
		}
		bk = &bucket{tokens: b.burst, last: now}
		b.buckets[key] = bk
	}
	if elapsed := now.Sub(bk.last).Seconds(); elapsed > 0 {
		bk.tokens = min(b.burst, bk.tokens+elapsed*b.rate)
		bk.last = now
	}
	if bk.tokens >= 1 {
		bk.tokens--
		return true, 0
	}
	need := (1 - bk.tokens) / b.rate
	return false, time.Duration(need * float64(time.Second))
}

// evict drops buckets that have refilled (they carry no information),
// and if that frees nothing, the whole map: a flood of distinct
// addresses must not grow memory without bound.
func (b *Buckets) evict(now time.Time) {
	full := time.Duration(b.burst / b.rate * float64(time.Second))
	for k, bk := range b.buckets {
		if now.Sub(bk.last) >= full {
			delete(b.buckets, k)
		}
	}
	if len(b.buckets) >= b.max {
		clear(b.buckets)
	}
}

// Len is how many keys are tracked (for tests and metrics).
func (b *Buckets) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.buckets)
}
