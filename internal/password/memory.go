package password

import (
	"math"
	"runtime"
	"runtime/metrics"
	"slices"
	"sync"
	"sync/atomic"
)

// What hashing is allowed of memory. Hashes dominate latch's memory
// under sign-in load: each argon2id computation allocates Params.Memory
// (19 MiB by default) afresh, and everything else a loaded latch holds is
// a few MiB.
const (
	// minHeadroom is the least the soft memory limit leaves above the
	// slots' working areas: the rest of latch's Go memory (a few MiB
	// idle, plus goroutines and buffers of a few hundred connections
	// under a flood) and room for the garbage collector to work in, so
	// that it does not run back to back.
	minHeadroom = 16 << 20
	// ContainerReserve is what a container's memory limit must hold
	// beside latch's soft limit, which counts only memory the Go runtime
	// manages: the executable's resident pages (about 19 MiB), SQLite's
	// page cache (allocated outside the Go heap), and the kernel's cache
	// of the database files, which the cgroup is charged for.
	ContainerReserve = 32 << 20
)

// WorkingArea is the memory one argon2id computation with p holds while it
// runs, in bytes.
func (p Params) WorkingArea() int64 { return int64(p.Memory) << 10 }

// MemoryLimitFor is the soft memory limit, in bytes, that slots hashes
// with p at once need: their working areas plus half as much again (at
// least 16 MiB) for everything else. At two slots of the default 19 MiB
// that is 57 MiB.
//
// Half as much again is the bound issue 15 sets on peak memory under
// sign-in load (idle, plus 1.5 times the slots' areas), and the Hasher's
// memory guard keeps well inside it: a new working area is allocated only
// once those of finished hashes have been reclaimed, so the slots' areas
// are the only large thing live.
func MemoryLimitFor(slots int, p Params) int64 {
	areas := int64(max(slots, 1)) * p.WorkingArea()
	return areas + max(areas/2, minHeadroom)
}

// Resources are what Size sizes hashing for.
type Resources struct {
	// Concurrency is the configured number of hash slots; 0 lets Size
	// choose.
	Concurrency int
	// CPUs is how many hashes can compute at once: runtime.GOMAXPROCS(0),
	// which follows the container's CPU quota.
	CPUs int
	// ContainerMemory is the container's memory limit in bytes (see
	// ContainerMemory); 0 for none.
	ContainerMemory int64
	// MemoryLimit is a soft memory limit set by the operator
	// (LATCH_MEMORY_LIMIT or GOMEMLIMIT), in bytes; 0 lets Size derive
	// one, and math.MaxInt64 means none at all.
	MemoryLimit int64
}

// Sizing is how much hashing a latch does at once, and the soft memory
// limit it keeps to.
type Sizing struct {
	// Slots is Limits.Concurrency.
	Slots int
	// MemoryLimit is the soft limit in bytes: the operator's, or
	// MemoryLimitFor(Slots) capped to fit the container. math.MaxInt64
	// means none.
	MemoryLimit int64
	// Derived is true when MemoryLimit was derived here rather than set
	// by the operator.
	Derived bool
	// BoundBy says what decided Slots: "configured", "cpus",
	// "container memory" or "memory limit".
	BoundBy string
	// Overcommitted is true when the configured slots, or even a single
	// one, do not fit the container or the operator's limit: hashing at
	// full concurrency may then exceed the container's memory, or make
	// the garbage collector work hard to stay under the limit.
	Overcommitted bool
}

// Size decides how many hashes with p run at once and the soft memory
// limit, from r:
//
//   - Slots are r.Concurrency when configured; otherwise one per CPU,
//     fewer when MemoryLimitFor(slots) does not fit under the operator's
//     limit or, with ContainerReserve beside it, in the container's
//     memory; never fewer than one.
//   - The limit is the operator's when set; otherwise MemoryLimitFor(Slots),
//     lowered to what the container holds beside ContainerReserve (but
//     not below half the container) when even that does not fit, which
//     only configured slots or a container too small for one slot cause.
func Size(r Resources, p Params) Sizing {
	budget := int64(math.MaxInt64)
	budgetBy := ""
	if r.MemoryLimit > 0 {
		budget, budgetBy = r.MemoryLimit, "memory limit"
	}
	if r.ContainerMemory > 0 {
		if c := r.ContainerMemory - ContainerReserve; c < budget {
			budget, budgetBy = c, "container memory"
		}
	}
	s := Sizing{Slots: r.Concurrency, BoundBy: "configured"}
	if s.Slots <= 0 {
		s.Slots, s.BoundBy = max(r.CPUs, 1), "cpus"
		for s.Slots > 1 && MemoryLimitFor(s.Slots, p) > budget {
			s.Slots--
			s.BoundBy = budgetBy
		}
	}
	s.Overcommitted = MemoryLimitFor(s.Slots, p) > budget
	switch {
	case r.MemoryLimit > 0:
		s.MemoryLimit = r.MemoryLimit
	default:
		s.MemoryLimit, s.Derived = MemoryLimitFor(s.Slots, p), true
		if r.ContainerMemory > 0 {
			// Better a collector that works hard than a container
			// killed for its memory.
			s.MemoryLimit = min(s.MemoryLimit, max(r.ContainerMemory-ContainerReserve, r.ContainerMemory/2))
		}
	}
	return s
}

// memGuard bounds the working areas that exist at once, those of hashes
// computing and those of finished hashes not yet collected, to a budget:
// before a hash allocates its area, if the area would take them past it,
// the guard runs a garbage collection first, so that finished hashes'
// areas are freed and the new one reuses their pages instead of adding to
// them.
//
// The runtime's soft memory limit alone does not do this: it starts a
// collection when the heap nears the limit, but argon2 allocates a whole
// area at once, and a hash that starts within the few milliseconds a
// collection takes finds the areas of the hashes that just ended still
// there. Under sign-in load on two cores that put a third area on top of
// the two live ones, often. The guard counts areas itself rather than
// reading the runtime's memory figures, because those cannot show an area
// approved a moment ago and not yet allocated: two hashes starting
// together would both see room for one.
//
// Areas hold no pointers, so a collection scans only the rest of the
// heap: about 2.5 ms of CPU, which the areas' reused, already resident
// pages repay (see BenchmarkHashParallelMemory).
type memGuard struct {
	budget uint64 // bytes; 0: off

	mu      sync.Mutex // guards live, dead, seq
	live    uint64     // bytes of areas approved and not yet released
	dead    []deadArea // released areas that may not have been collected
	seq     uint64     // numbers releases, to tell which a collection freed
	cycles  func() uint64
	collect func()
	// gcMu makes one caller collect while others wait for it and then
	// find the room it made, instead of collecting again.
	gcMu sync.Mutex
	// collections counts forced collections, for Stats, which must not
	// wait for one in progress.
	collections atomic.Uint64
}

// deadArea is a finished hash's area: seq orders it among releases, and
// cycle is how many collections had completed when it was released.
type deadArea struct{ bytes, seq, cycle uint64 }

// newMemGuard returns a guard for the soft memory limit limit: the areas
// may take all of it but minHeadroom, which is kept for the rest of the
// process. 0 or math.MaxInt64 turn it off.
func newMemGuard(limit int64) *memGuard {
	g := &memGuard{cycles: gcCycles(), collect: runtime.GC}
	if limit > 0 && limit < math.MaxInt64 {
		g.budget = uint64(max(limit-minHeadroom, limit/2))
	}
	return g
}

// acquire reserves need bytes for an area about to be allocated,
// collecting first if the areas would otherwise exceed the budget and a
// collection can help (some are dead). It never refuses: if the live
// areas alone exceed the budget, the hash goes ahead, as the limit is
// soft. The caller calls release(need) once the hash is done.
func (g *memGuard) acquire(need uint64) {
	if g.budget == 0 {
		return
	}
	g.mu.Lock()
	fits := g.fits(need)
	// Reserved at once, even before a collection: a hash starting in
	// another slot meanwhile must count this area, or both would see
	// room for one.
	g.live += need
	g.mu.Unlock()
	if fits {
		return
	}

	g.gcMu.Lock()
	defer g.gcMu.Unlock()
	g.mu.Lock()
	if g.fits(0) || len(g.dead) == 0 {
		// Another caller's collection made the room, or none can.
		g.mu.Unlock()
		return
	}
	// runtime.GC runs a whole cycle that starts after the call and
	// sweeps before it returns: every area released before it is free
	// afterwards.
	freed := g.seq
	g.mu.Unlock()
	g.collect()
	g.collections.Add(1)
	g.mu.Lock()
	g.dead = slices.DeleteFunc(g.dead, func(d deadArea) bool { return d.seq <= freed })
	g.mu.Unlock()
}

// fits reports whether need more bytes keep the areas within the budget,
// forgetting first the dead areas that the runtime's own collections have
// surely freed. Under mu.
func (g *memGuard) fits(need uint64) bool {
	done := g.cycles()
	// A cycle under way when an area was released may have marked it
	// before it was dropped; the cycle after that one frees it.
	g.dead = slices.DeleteFunc(g.dead, func(d deadArea) bool { return done >= d.cycle+2 })
	total := g.live + need
	for _, d := range g.dead {
		total += d.bytes
	}
	return total <= g.budget
}

// release records that the area of need bytes is garbage from now on.
func (g *memGuard) release(need uint64) {
	if g.budget == 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.live -= need
	g.seq++
	g.dead = append(g.dead, deadArea{bytes: need, seq: g.seq, cycle: g.cycles()})
}

// gcCycles returns a reader of the number of completed garbage
// collections; runtime/metrics reads it without stopping the world, unlike
// runtime.ReadMemStats. Callers serialise (memGuard.mu): the sample is
// reused.
func gcCycles() func() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	return func() uint64 {
		metrics.Read(s)
		if s[0].Value.Kind() != metrics.KindUint64 {
			// A runtime without the metric: never count a dead area
			// as collected until a forced collection frees it.
			return 0
		}
		return s[0].Value.Uint64()
	}
}
