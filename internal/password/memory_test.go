package password

import (
	"context"
	"math"
	"runtime"
	"slices"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// Requirement: issue 15 — peak memory under sign-in load at most the
// slots' working areas and half as much again; at the default two slots
// of 19 MiB, 57 MiB.
func TestMemoryLimitFor(t *testing.T) {
	p := DefaultParams()
	if got := p.WorkingArea(); got != 19*mib {
		t.Fatalf("WorkingArea() = %d, want 19 MiB", got)
	}
	for _, tc := range []struct {
		slots int
		want  int64
	}{
		{0, 35 * mib}, // as one slot
		{1, 35 * mib}, // 19 MiB and the 16 MiB floor of headroom
		{2, 57 * mib}, // 38 + 19
		{3, 57*mib + 57*mib/2},
		{8, 152*mib + 76*mib},
	} {
		if got := MemoryLimitFor(tc.slots, p); got != tc.want {
			t.Errorf("MemoryLimitFor(%d) = %.1f MiB, want %.1f MiB", tc.slots, float64(got)/mib, float64(tc.want)/mib)
		}
	}
}

// Requirement: DESIGN "Passwords and abuse" — by default one slot per
// CPU, fewer if the container's memory limit cannot hold them.
func TestSize(t *testing.T) {
	const off = math.MaxInt64
	p := DefaultParams()
	for _, tc := range []struct {
		name string
		r    Resources
		want Sizing
	}{
		{"two CPUs, no container",
			Resources{CPUs: 2},
			Sizing{Slots: 2, MemoryLimit: 57 * mib, Derived: true, BoundBy: "cpus"}},
		{"a large container leaves the CPUs in charge",
			Resources{CPUs: 2, ContainerMemory: 512 * mib},
			Sizing{Slots: 2, MemoryLimit: 57 * mib, Derived: true, BoundBy: "cpus"}},
		{"128 MiB holds three of eight CPUs' slots",
			// 128 - 32 reserved = 96 MiB: three slots need 85.5, four 114.
			Resources{CPUs: 8, ContainerMemory: 128 * mib},
			Sizing{Slots: 3, MemoryLimit: 57*mib + 57*mib/2, Derived: true, BoundBy: "container memory"}},
		{"96 MiB holds two",
			Resources{CPUs: 4, ContainerMemory: 96 * mib},
			Sizing{Slots: 2, MemoryLimit: 57 * mib, Derived: true, BoundBy: "container memory"}},
		{"64 MiB holds not even one, but one there must be",
			// 64 - 32 = 32 MiB < 35: the limit is lowered to 32 and the
			// operator warned.
			Resources{CPUs: 4, ContainerMemory: 64 * mib},
			Sizing{Slots: 1, MemoryLimit: 32 * mib, Derived: true, BoundBy: "container memory", Overcommitted: true}},
		{"the operator's limit bounds the slots",
			Resources{CPUs: 4, MemoryLimit: 96 * mib},
			Sizing{Slots: 3, MemoryLimit: 96 * mib, BoundBy: "memory limit"}},
		{"the smaller of the operator's limit and the container",
			Resources{CPUs: 4, MemoryLimit: 64 * mib, ContainerMemory: 256 * mib},
			Sizing{Slots: 2, MemoryLimit: 64 * mib, BoundBy: "memory limit"}},
		{"no limit at all (off): CPUs only",
			Resources{CPUs: 4, MemoryLimit: off},
			Sizing{Slots: 4, MemoryLimit: off, BoundBy: "cpus"}},
		{"off still fits the container",
			Resources{CPUs: 4, MemoryLimit: off, ContainerMemory: 128 * mib},
			Sizing{Slots: 3, MemoryLimit: off, BoundBy: "container memory"}},
		{"configured slots are kept",
			Resources{Concurrency: 2, CPUs: 8},
			Sizing{Slots: 2, MemoryLimit: 57 * mib, Derived: true, BoundBy: "configured"}},
		{"configured slots that overflow the container: limit capped, warned",
			Resources{Concurrency: 6, CPUs: 8, ContainerMemory: 128 * mib},
			Sizing{Slots: 6, MemoryLimit: 96 * mib, Derived: true, BoundBy: "configured", Overcommitted: true}},
		{"configured slots beyond the operator's limit: the limit stands, warned",
			Resources{Concurrency: 4, CPUs: 8, MemoryLimit: 64 * mib},
			Sizing{Slots: 4, MemoryLimit: 64 * mib, BoundBy: "configured", Overcommitted: true}},
		{"no CPU count: one slot",
			Resources{},
			Sizing{Slots: 1, MemoryLimit: 35 * mib, Derived: true, BoundBy: "cpus"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Size(tc.r, p); got != tc.want {
				t.Errorf("Size(%+v) =\n  %+v, want\n  %+v", tc.r, got, tc.want)
			}
		})
	}
}

// fakeMemory stands for the runtime's memory in use: collect drops it to
// what is live after a collection.
type fakeMemory struct {
	mu             sync.Mutex
	inUse, live    uint64
	reads, collect int
	events         *[]string
}

func (m *fakeMemory) install(h *Hasher, limit uint64, events *[]string) {
	m.events = events
	h.mem.limit = limit
	h.mem.inUse = func() uint64 {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.reads++
		return m.inUse
	}
	h.mem.collect = func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.collect++
		m.inUse = m.live
		*m.events = append(*m.events, "collect")
	}
	orig := h.derive
	h.derive = func(password, salt []byte, p Params) []byte {
		m.mu.Lock()
		*m.events = append(*m.events, "derive")
		m.inUse += uint64(p.WorkingArea())
		m.mu.Unlock()
		return orig(password, salt, p)
	}
}

// Requirement: issue 15 — a new working area is allocated only after the
// areas of finished hashes have been collected, when it would otherwise
// take memory past the limit.
func TestMemoryGuardCollectsBeforeAnAreaThatWouldNotFit(t *testing.T) {
	area := uint64(cheapParams.WorkingArea())
	h := newHasher(t, cheapParams, Limits{Concurrency: 1, Memory: 1})
	var events []string
	// Two finished hashes' areas await collection: a third would pass
	// the limit of two areas and a little.
	m := &fakeMemory{inUse: 2*area + 10, live: 10}
	m.install(h, 2*area+100, &events)

	mustHash(t, h, "correct horse battery staple")
	if want := []string{"collect", "derive"}; !slices.Equal(events, want) {
		t.Errorf("events = %v, want %v: the collection must come before the new area", events, want)
	}
	// One live area now, plus the finished one: the next fits.
	mustHash(t, h, "correct horse battery staple")
	if want := []string{"collect", "derive", "derive"}; !slices.Equal(events, want) {
		t.Errorf("events = %v, want %v: no collection while the area fits", events, want)
	}
	if got := h.Stats().Collections; got != 1 {
		t.Errorf("Stats().Collections = %d, want 1", got)
	}
}

func TestMemoryGuardOffWithoutLimit(t *testing.T) {
	for _, limit := range []int64{0, math.MaxInt64} {
		h := newHasher(t, cheapParams, Limits{Memory: limit})
		if h.mem.limit != 0 {
			t.Errorf("Memory %d: guard limit = %d, want 0 (off)", limit, h.mem.limit)
		}
		h.mem.inUse = func() uint64 {
			t.Errorf("Memory %d: memory read with the guard off", limit)
			return 0
		}
		h.mem.collect = func() { t.Errorf("Memory %d: collection with the guard off", limit) }
		mustHash(t, h, "correct horse battery staple")
	}
}

// A bcrypt verification allocates a few KiB, not a working area: the
// guard has no reason to collect for it.
func TestMemoryGuardIgnoresBcrypt(t *testing.T) {
	h := newHasher(t, cheapParams, Limits{Memory: 1})
	h.mem.inUse = func() uint64 { return math.MaxUint32 }
	h.mem.collect = func() { t.Error("collection before a bcrypt verification") }
	stored, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.Verify(context.Background(), "pw", string(stored)); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

// When two hashes start while memory is high, one collection serves both:
// the second waits for the first's and finds the room it made.
func TestMemoryGuardOneCollectionForConcurrentHashes(t *testing.T) {
	area := uint64(cheapParams.WorkingArea())
	h := newHasher(t, cheapParams, Limits{Concurrency: 2, Memory: 1})
	var events []string
	m := &fakeMemory{inUse: 4 * area, live: 0}
	m.install(h, 3*area, &events)
	started, release := make(chan struct{}), make(chan struct{})
	collect := h.mem.collect
	h.mem.collect = func() {
		close(started)
		<-release
		collect()
	}
	first := hashAsync(context.Background(), h)
	<-started
	second := hashAsync(context.Background(), h)
	waitUntil(t, "the second hash holds a slot", func() bool { return h.Stats().InFlight == 2 })
	close(release)
	for _, c := range []<-chan result{first, second} {
		if r := recv(t, "a hash", c); r.err != nil {
			t.Fatalf("Hash: %v", r.err)
		}
	}
	if m.collect != 1 {
		t.Errorf("collections = %d, want 1 for both hashes", m.collect)
	}
}

// runtimeInUse reads the real runtime: memory held by a live allocation
// counts, and a collection after it is dropped gives the pages back.
func TestRuntimeInUse(t *testing.T) {
	inUse := runtimeInUse()
	runtime.GC()
	before := inUse()
	if before == 0 {
		t.Fatal("runtimeInUse() = 0, want the runtime's memory")
	}
	buf := make([]byte, 64*mib)
	for i := range buf {
		buf[i] = 1 // touch it, so it is surely memory in use
	}
	// Other memory comes and goes meanwhile (test bookkeeping, stacks):
	// allow it a few MiB.
	held := inUse()
	if held < before+56*mib {
		t.Errorf("with 64 MiB live: in use %d MiB, want at least %d MiB (%d before)", held/mib, (before+56*mib)/mib, before/mib)
	}
	runtime.KeepAlive(buf) // and no further: the collection below frees it
	runtime.GC()
	if after := inUse(); after >= held-32*mib {
		t.Errorf("after dropping 64 MiB and collecting: in use %d MiB, want well below %d MiB", after/mib, held/mib)
	}
}
