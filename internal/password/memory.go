package password

import (
	"math"
	"runtime"
	"runtime/metrics"
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

// memGuard makes room for a working area before it is allocated. The
// runtime's soft memory limit alone does not bound the peak: it starts a
// collection when the heap nears the limit, but argon2 allocates its
// whole working area at once, and when a second hash starts within the
// few milliseconds a collection takes, the areas of the hashes that just
// ended are still counted. Under sign-in load on two cores that happens
// often enough to put a third working area on top of the two live ones.
// So before a hash allocates, the guard looks at the Go memory in use and,
// if the new area would take it past the limit, collects first; the
// areas of finished hashes are then free pages that the new one reuses.
//
// One collection per hash at most, and only when memory is high: argon2's
// areas hold no pointers, so a collection only scans the small rest of
// the heap, about a millisecond of CPU beside some 40 ms of hashing.
type memGuard struct {
	limit uint64 // 0: off
	// mu makes one caller collect while the others wait and then find
	// the room it made, instead of collecting again.
	mu      sync.Mutex
	inUse   func() uint64 // Go memory in use, free heap pages excluded
	collect func()
	// collections counts forced collections, for Stats, which must not
	// wait for one in progress.
	collections atomic.Uint64
}

func newMemGuard(limit int64) *memGuard {
	g := &memGuard{inUse: runtimeInUse(), collect: runtime.GC}
	if limit > 0 && limit < math.MaxInt64 {
		g.limit = uint64(limit)
	}
	return g
}

// makeRoom collects garbage first if need more bytes would take the Go
// memory in use past the limit. It does not loop: if live memory is
// genuinely above the limit, the hash goes ahead, as the limit is soft.
func (g *memGuard) makeRoom(need uint64) {
	if g.limit == 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.inUse()+need <= g.limit {
		return
	}
	g.collect()
	g.collections.Add(1)
}

// runtimeInUse returns a reader of the memory the Go runtime holds for
// live and not yet collected objects, stacks and its own metadata: all it
// has mapped less the free heap pages, which a new allocation reuses
// without growing the process. runtime/metrics reads it without stopping
// the world, unlike runtime.ReadMemStats. Callers serialise (memGuard.mu):
// the samples are reused.
func runtimeInUse() func() uint64 {
	s := []metrics.Sample{
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
	}
	return func() uint64 {
		metrics.Read(s)
		for _, v := range s {
			if v.Value.Kind() != metrics.KindUint64 {
				// A runtime without these metrics: never collect
				// on their account.
				return 0
			}
		}
		return s[0].Value.Uint64() - s[1].Value.Uint64() - s[2].Value.Uint64()
	}
}
