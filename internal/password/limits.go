package password

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
)

// ErrBusy means hashing capacity is saturated: every slot is computing and
// the queue is full, or the caller waited MaxWait without getting a slot.
// The server answers 503 with Retry-After; nothing was computed.
var ErrBusy = errors.New("password: hashing capacity saturated")

// Limits bound hashing work so that memory stays bounded under any flood of
// logins: each argon2id computation holds Params.Memory until it ends, so at
// most Concurrency × Memory is in use, whatever the load.
type Limits struct {
	// Concurrency is how many hashes (argon2id or bcrypt) run at once.
	// 0 means runtime.GOMAXPROCS(0): hashing is CPU-bound, so more would
	// only add memory, not throughput.
	Concurrency int
	// Queue is how many callers may wait for a slot. 0 means 4 ×
	// Concurrency; negative means none wait. Waiters hold no hashing memory,
	// so the queue costs only latency: at four per slot the last waiter
	// waits about four hash times (about 0.2 s at the default parameters,
	// which take some 45 ms on one server core), enough to absorb a burst of
	// logins arriving together, while a flood is told ErrBusy quickly, which
	// a client or load balancer can act on, instead of timing out.
	Queue int
	// MaxWait is how long a queued caller waits before ErrBusy. 0 means one
	// second: far above a full queue's normal wait, so it fires only when
	// the CPUs are starved, and still well below HTTP client timeouts.
	MaxWait time.Duration
	// Memory is the soft memory limit of the process in bytes (see Size
	// and runtime/debug.SetMemoryLimit), which hashing keeps to: the
	// working areas of running hashes and of finished ones not yet
	// collected may take all of it but 16 MiB, and before a hash
	// allocates an area that would not fit, a garbage collection frees
	// the finished ones' first, so that the new area reuses their pages
	// rather than adds to them. 0 means no such bound.
	Memory int64
}

// DefaultLimits returns the Limits that the zero Limits stands for, with
// Concurrency resolved against the current GOMAXPROCS (which follows the
// container's CPU quota).
func DefaultLimits() Limits { return Limits{}.withDefaults() }

const defaultMaxWait = time.Second

func (l Limits) withDefaults() Limits {
	if l.Concurrency == 0 {
		l.Concurrency = runtime.GOMAXPROCS(0)
	}
	switch {
	case l.Queue == 0:
		l.Queue = 4 * l.Concurrency
	case l.Queue < 0:
		l.Queue = 0
	}
	if l.MaxWait == 0 {
		l.MaxWait = defaultMaxWait
	}
	return l
}

// Validate reports every reason l cannot be used, joined, or nil. Zero
// fields are valid: they stand for the defaults.
func (l Limits) Validate() error {
	var errs []error
	if l.Concurrency < 0 {
		errs = append(errs, fmt.Errorf("hashing concurrency must not be negative, got %d", l.Concurrency))
	}
	if l.MaxWait < 0 {
		errs = append(errs, fmt.Errorf("hashing max wait must not be negative, got %s", l.MaxWait))
	}
	if l.Memory < 0 {
		errs = append(errs, fmt.Errorf("hashing memory limit must not be negative, got %d", l.Memory))
	}
	return errors.Join(errs...)
}

// Stats are the admission counters, for metrics.
type Stats struct {
	// InFlight is how many hashes are computing now.
	InFlight int64
	// Waiting is how many callers are queued now.
	Waiting int64
	// Rejected counts ErrBusy answers since start: queue full or MaxWait
	// passed.
	Rejected uint64
	// Abandoned counts queued callers whose context ended before a slot
	// came free, since start.
	Abandoned uint64
	// Admitted counts callers that got a slot, since start; Queued those of
	// them that had to wait for it, and WaitTotal how long they waited in
	// all (WaitTotal / Queued is the mean wait of a queued caller).
	Admitted, Queued uint64
	WaitTotal        time.Duration
	// Collections counts garbage collections run before a hash to make
	// room for its working area within Limits.Memory, since start.
	Collections uint64
}

// Stats returns the current admission counters. Each is read atomically; the
// set is not a single snapshot.
func (h *Hasher) Stats() Stats {
	return Stats{
		InFlight:  h.gate.inFlight.Load(),
		Waiting:   h.gate.waiting.Load(),
		Rejected:  h.gate.rejected.Load(),
		Abandoned: h.gate.abandoned.Load(),
		Admitted:  h.gate.admitted.Load(),
		Queued:    h.gate.queued.Load(),
		WaitTotal: time.Duration(h.gate.waitNanos.Load()),

		Collections: h.mem.collections.Load(),
	}
}

// gate is a counting semaphore with a bounded, time-limited queue. A
// buffered channel is the semaphore: a receive that frees a slot hands it
// straight to the longest-blocked sender, so waiters are served in order and
// a newcomer cannot overtake them.
type gate struct {
	slots   chan struct{}
	queue   int64
	maxWait time.Duration

	inFlight  atomic.Int64
	waiting   atomic.Int64
	rejected  atomic.Uint64
	abandoned atomic.Uint64
	admitted  atomic.Uint64
	queued    atomic.Uint64
	waitNanos atomic.Int64
}

func newGate(l Limits) *gate {
	return &gate{
		slots:   make(chan struct{}, l.Concurrency),
		queue:   int64(l.Queue),
		maxWait: l.MaxWait,
	}
}

// acquire takes a slot, waiting in the queue if there is room; on success
// the caller must call release once. It returns ErrBusy or ctx's error
// otherwise.
func (g *gate) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case g.slots <- struct{}{}:
		g.inFlight.Add(1)
		g.admitted.Add(1)
		return nil
	default:
	}
	if g.waiting.Add(1) > g.queue {
		g.waiting.Add(-1)
		g.rejected.Add(1)
		return ErrBusy
	}
	defer g.waiting.Add(-1)
	start := time.Now()
	timer := time.NewTimer(g.maxWait)
	defer timer.Stop()
	select {
	case g.slots <- struct{}{}:
		g.inFlight.Add(1)
		g.admitted.Add(1)
		g.queued.Add(1)
		g.waitNanos.Add(int64(time.Since(start)))
		return nil
	case <-ctx.Done():
		g.abandoned.Add(1)
		return ctx.Err()
	case <-timer.C:
		g.rejected.Add(1)
		return ErrBusy
	}
}

func (g *gate) release() {
	g.inFlight.Add(-1)
	<-g.slots
}
