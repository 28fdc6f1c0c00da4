package password

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// blockingDerive makes every derivation announce itself on started and then
// wait for release to be closed, so a test decides when slots come free.
type blockingDerive struct {
	started chan struct{}
	release chan struct{}
}

func installBlocking(h *Hasher) *blockingDerive {
	b := &blockingDerive{started: make(chan struct{}, 100), release: make(chan struct{})}
	h.derive = func(_, _ []byte, p Params) []byte {
		b.started <- struct{}{}
		<-b.release
		return make([]byte, p.KeyLen)
	}
	return b
}

type result struct{ err error }

func hashAsync(ctx context.Context, h *Hasher) <-chan result {
	done := make(chan result, 1)
	go func() {
		_, err := h.Hash(ctx, "correct horse battery staple")
		done <- result{err}
	}()
	return done
}

// waitUntil polls cond without asserting anything about time: it only
// guards the test against hanging forever.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting until %s", what)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

func recv(t *testing.T, what string, c <-chan result) result {
	t.Helper()
	select {
	case r := <-c:
		return r
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not return", what)
		return result{}
	}
}

// Requirement: DESIGN "Passwords and abuse" — at most a few hashes at once,
// a short queue, then 503.
func TestLimitsQueueFullRejectsAtOnce(t *testing.T) {
	h := newHasher(t, cheapParams, Limits{Concurrency: 1, Queue: 1, MaxWait: time.Hour})
	b := installBlocking(h)
	ctx := context.Background()

	first := hashAsync(ctx, h)
	<-b.started
	second := hashAsync(ctx, h)
	waitUntil(t, "the second caller is queued", func() bool { return h.Stats().Waiting == 1 })

	// MaxWait is an hour, so only an immediate refusal can return here.
	third := recv(t, "the third caller", hashAsync(ctx, h))
	if !errors.Is(third.err, ErrBusy) {
		t.Errorf("third caller: err = %v, want ErrBusy", third.err)
	}
	if got := h.Stats(); got != (Stats{InFlight: 1, Waiting: 1, Rejected: 1, Admitted: 1}) {
		t.Errorf("Stats = %+v, want 1 in flight (admitted), 1 waiting, 1 rejected", got)
	}
	// The VerifyDummy of an unknown email is admitted like any other hash.
	if err := h.VerifyDummy(ctx, "x"); !errors.Is(err, ErrBusy) {
		t.Errorf("VerifyDummy while saturated: err = %v, want ErrBusy", err)
	}

	close(b.release)
	for i, c := range []<-chan result{first, second} {
		if r := recv(t, "an admitted caller", c); r.err != nil {
			t.Errorf("caller %d: err = %v, want nil", i+1, r.err)
		}
	}
	got := h.Stats()
	if got.WaitTotal <= 0 {
		t.Errorf("WaitTotal = %v, want the queued caller's wait", got.WaitTotal)
	}
	if got != (Stats{Rejected: 2, Admitted: 2, Queued: 1, WaitTotal: got.WaitTotal}) {
		t.Errorf("Stats after release = %+v, want 2 rejected, 2 admitted, 1 of them queued", got)
	}
}

func TestLimitsCancelledWaiterLeavesQueue(t *testing.T) {
	h := newHasher(t, cheapParams, Limits{Concurrency: 1, Queue: 1, MaxWait: time.Hour})
	b := installBlocking(h)

	first := hashAsync(context.Background(), h)
	<-b.started
	ctx, cancel := context.WithCancel(context.Background())
	waiter := hashAsync(ctx, h)
	waitUntil(t, "the waiter is queued", func() bool { return h.Stats().Waiting == 1 })
	cancel()

	if r := recv(t, "the cancelled waiter", waiter); !errors.Is(r.err, context.Canceled) {
		t.Errorf("cancelled waiter: err = %v, want context.Canceled", r.err)
	}
	if got := h.Stats(); got != (Stats{InFlight: 1, Abandoned: 1, Admitted: 1}) {
		t.Errorf("Stats = %+v, want 1 in flight, 1 abandoned, none waiting", got)
	}
	// Its place in the queue is free again: a new caller waits, not ErrBusy.
	next := hashAsync(context.Background(), h)
	waitUntil(t, "the next caller is queued", func() bool { return h.Stats().Waiting == 1 })

	close(b.release)
	for _, c := range []<-chan result{first, next} {
		if r := recv(t, "an admitted caller", c); r.err != nil {
			t.Errorf("err = %v, want nil", r.err)
		}
	}
}

func TestLimitsCancelledContextComputesNothing(t *testing.T) {
	h := newHasher(t, cheapParams, Limits{})
	spy := &spyDerive{}
	spy.install(h)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "correct horse battery staple"); !errors.Is(err, context.Canceled) {
		t.Errorf("Hash with a cancelled context: err = %v, want context.Canceled", err)
	}
	if n := len(spy.Calls()); n != 0 {
		t.Errorf("derivations = %d, want 0", n)
	}
}

func TestLimitsMaxWait(t *testing.T) {
	const maxWait = 20 * time.Millisecond
	h := newHasher(t, cheapParams, Limits{Concurrency: 1, Queue: 1, MaxWait: maxWait})
	b := installBlocking(h)
	defer close(b.release)

	first := hashAsync(context.Background(), h)
	<-b.started
	start := time.Now()
	r := recv(t, "the waiter", hashAsync(context.Background(), h))
	waited := time.Since(start)
	if !errors.Is(r.err, ErrBusy) {
		t.Errorf("waiter: err = %v, want ErrBusy after MaxWait", r.err)
	}
	// Only the lower bound is asserted: a loaded machine may be late, never
	// early.
	if waited < maxWait {
		t.Errorf("waiter gave up after %s, want at least MaxWait %s", waited, maxWait)
	}
	if got := h.Stats(); got.Rejected != 1 || got.Waiting != 0 {
		t.Errorf("Stats = %+v, want 1 rejected, none waiting", got)
	}
	select {
	case r := <-first:
		t.Errorf("the admitted caller returned early: %v", r.err)
	default:
	}
}

func TestLimitsNoQueue(t *testing.T) {
	h := newHasher(t, cheapParams, Limits{Concurrency: 1, Queue: -1, MaxWait: time.Hour})
	b := installBlocking(h)
	first := hashAsync(context.Background(), h)
	<-b.started
	if r := recv(t, "the second caller", hashAsync(context.Background(), h)); !errors.Is(r.err, ErrBusy) {
		t.Errorf("second caller with Queue -1: err = %v, want ErrBusy", r.err)
	}
	close(b.release)
	if r := recv(t, "the first caller", first); r.err != nil {
		t.Errorf("first caller: err = %v, want nil", r.err)
	}
}

// Memory stays bounded: however many callers, no more than Concurrency
// derivations (each holding Params.Memory) ever run at once.
func TestLimitsBoundConcurrency(t *testing.T) {
	const concurrency, callers = 2, 12
	h := newHasher(t, cheapParams, Limits{Concurrency: concurrency, Queue: callers, MaxWait: time.Hour})
	var running, peak atomic.Int64
	orig := h.derive
	h.derive = func(password, salt []byte, p Params) []byte {
		n := running.Add(1)
		for {
			old := peak.Load()
			if n <= old || peak.CompareAndSwap(old, n) {
				break
			}
		}
		runtime.Gosched()
		defer running.Add(-1)
		return orig(password, salt, p)
	}
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			if _, err := h.Hash(context.Background(), "correct horse battery staple"); err != nil {
				t.Errorf("Hash: %v", err)
			}
		})
	}
	wg.Wait()
	if got := peak.Load(); got > concurrency {
		t.Errorf("peak concurrent derivations = %d, want at most %d", got, concurrency)
	}
}

func TestDefaultLimits(t *testing.T) {
	got := DefaultLimits()
	c := runtime.GOMAXPROCS(0)
	want := Limits{Concurrency: c, Queue: 4 * c, MaxWait: time.Second}
	if got != want {
		t.Errorf("DefaultLimits() = %+v, want %+v", got, want)
	}
	if got := (Limits{Concurrency: 3}).withDefaults(); got.Queue != 12 {
		t.Errorf("Queue for Concurrency 3 = %d, want 12", got.Queue)
	}
}
