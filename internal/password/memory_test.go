package password

import (
	"context"
	"math"
	"runtime"
	"runtime/metrics"
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

// fakeRuntime stands for the garbage collector: it counts completed
// cycles (which a test advances) and forced collections, and logs them with
// the derivations.
type fakeRuntime struct {
	mu      sync.Mutex
	cycle   uint64
	forced  int
	events  []string
	onForce func() // if set, runs inside a forced collection
}

func (f *fakeRuntime) log(e string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, e)
}

func (f *fakeRuntime) Events() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.events)
}

// guardedHasher is a hasher of concurrency slots whose memory guard
// runs on a fakeRuntime with a budget of areas areas.
func guardedHasher(t *testing.T, concurrency int, areas uint64) (*Hasher, *fakeRuntime) {
	t.Helper()
	h := newHasher(t, cheapParams, Limits{Concurrency: concurrency})
	f := &fakeRuntime{}
	f.install(h, cheapParams, areas)
	return h, f
}

// completeCycles has the runtime complete n collection cycles of its own.
func (f *fakeRuntime) completeCycles(n uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cycle += n
}

// holdFirstCollection makes the first forced collection close started
// and then wait, before it collects, until the test closes release.
func (f *fakeRuntime) holdFirstCollection() (started, release chan struct{}) {
	started, release = make(chan struct{}), make(chan struct{})
	f.onForce = func() {
		if f.forced == 0 {
			close(started)
			<-release
		}
	}
	return started, release
}

// wantForced fails unless f has forced want collections; why says why
// that many.
func (f *fakeRuntime) wantForced(t *testing.T, want int, why string) {
	t.Helper()
	if f.forced != want {
		t.Errorf("forced collections = %d, want %d: %s", f.forced, want, why)
	}
}

// wantHashed fails unless every hash on cs succeeds.
func wantHashed(t *testing.T, cs ...<-chan result) {
	t.Helper()
	for _, c := range cs {
		if r := recv(t, "a hash", c); r.err != nil {
			t.Fatalf("Hash: %v", r.err)
		}
	}
}

// install gives h's guard a budget of areas working areas of p and this
// fake runtime.
func (f *fakeRuntime) install(h *Hasher, p Params, areas uint64) {
	h.mem.budget = areas * uint64(p.WorkingArea())
	h.mem.cycles = func() uint64 {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.cycle
	}
	h.mem.collect = func() {
		if f.onForce != nil {
			f.onForce()
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.forced++
		f.cycle++
		f.events = append(f.events, "collect")
	}
	orig := h.derive
	h.derive = func(password, salt []byte, p Params) []byte {
		f.log("derive")
		return orig(password, salt, p)
	}
}

// Requirement: issue 15 — a new working area is allocated only after the
// areas of finished hashes have been collected, when it would otherwise
// take the areas past the budget.
func TestMemoryGuardCollectsBeforeAnAreaThatWouldNotFit(t *testing.T) {
	h, f := guardedHasher(t, 1, 2)
	for range 3 {
		mustHash(t, h, "correct horse battery staple")
	}
	// Two areas fit: the first hash's and, once it is done but not
	// collected, the second's. The third would make three.
	if got, want := f.Events(), []string{"derive", "derive", "collect", "derive"}; !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
	if got := h.Stats().Collections; got != 1 {
		t.Errorf("Stats().Collections = %d, want 1", got)
	}
}

// The runtime's own collections count: an area released before a cycle
// that started after it is free, and needs no forced collection.
func TestMemoryGuardTrustsCompletedCycles(t *testing.T) {
	for _, tc := range []struct {
		cycles uint64 // completed between the second and third hash
		want   []string
	}{
		// The cycle under way at release may have marked the area
		// before it was dropped: one cycle proves nothing.
		{1, []string{"derive", "derive", "collect", "derive"}},
		{2, []string{"derive", "derive", "derive"}},
	} {
		h, f := guardedHasher(t, 1, 2)
		mustHash(t, h, "correct horse battery staple")
		mustHash(t, h, "correct horse battery staple")
		f.completeCycles(tc.cycles)
		mustHash(t, h, "correct horse battery staple")
		if got := f.Events(); !slices.Equal(got, tc.want) {
			t.Errorf("%d cycles completed: events = %v, want %v", tc.cycles, got, tc.want)
		}
	}
}

// An area counts from the moment it is approved, before argon2 has
// allocated it: a second hash starting right after the first must not
// find the room the first is about to fill.
func TestMemoryGuardCountsApprovedAreas(t *testing.T) {
	h, f := guardedHasher(t, 2, 2)
	mustHash(t, h, "correct horse battery staple") // leaves one dead area
	b := installBlocking(h)                        // the next derivations hold on
	first := hashAsync(context.Background(), h)
	<-b.started // approved: one dead area and one live, the budget
	second := hashAsync(context.Background(), h)
	<-b.started
	close(b.release)
	wantHashed(t, first, second)
	f.wantForced(t, 1, "the second hash's area did not fit beside the first's and the dead one")
}

// A hash whose area waits for a collection has reserved it already: a
// hash starting in the other slot meanwhile, finding the dead areas the
// runtime has collected by then gone, must still count it, and collect
// the area that died during the first collection rather than add a third.
func TestMemoryGuardReservesDuringCollection(t *testing.T) {
	h, f := guardedHasher(t, 2, 2)
	mustHash(t, h, "correct horse battery staple") // A: dead, released at cycle 0
	b := installBlocking(h)
	y := hashAsync(context.Background(), h) // Y: live in slot 2
	<-b.started
	collecting, finish := f.holdFirstCollection()
	x := hashAsync(context.Background(), h) // X: A + Y + X > 2: collects
	<-collecting
	// The runtime's own cycles complete meanwhile: A is surely freed.
	f.completeCycles(2)
	close(b.release) // Y ends during X's collection: its area is dead, uncollected
	if r := recv(t, "Y", y); r.err != nil {
		t.Fatalf("Y: %v", r.err)
	}
	z := hashAsync(context.Background(), h) // Z in Y's slot: X + Y + Z > 2
	waitUntil(t, "Z got a slot", func() bool { return h.Stats().Admitted == 4 })
	close(finish)
	wantHashed(t, x, z)
	f.wantForced(t, 2, "Z must collect Y's area before adding its own beside X's")
}

// When two hashes need room at once, one collection serves both: the
// second waits for the first's and finds the room it made.
func TestMemoryGuardOneCollectionForConcurrentHashes(t *testing.T) {
	h, f := guardedHasher(t, 2, 3)
	for range 3 {
		mustHash(t, h, "correct horse battery staple") // three dead areas
	}
	started, release := f.holdFirstCollection()
	first := hashAsync(context.Background(), h)
	<-started
	second := hashAsync(context.Background(), h)
	waitUntil(t, "the second hash holds a slot", func() bool { return h.Stats().InFlight == 2 })
	close(release)
	wantHashed(t, first, second)
	f.wantForced(t, 1, "one serves both hashes")
}

// A collection cannot shrink live areas: when they alone exceed the
// budget (more slots than the limit holds), hashes go ahead without one.
func TestMemoryGuardNoUselessCollection(t *testing.T) {
	h, f := guardedHasher(t, 1, 1)
	h.mem.budget = 1 // not even one area fits
	mustHash(t, h, "correct horse battery staple")
	f.completeCycles(2) // the first area is collected
	mustHash(t, h, "correct horse battery staple")
	f.wantForced(t, 0, "none could make room")
}

func TestMemoryGuardOffWithoutLimit(t *testing.T) {
	for _, limit := range []int64{0, math.MaxInt64} {
		h := newHasher(t, cheapParams, Limits{Memory: limit})
		if h.mem.budget != 0 {
			t.Errorf("Memory %d: guard budget = %d, want 0 (off)", limit, h.mem.budget)
		}
		h.mem.cycles = func() uint64 {
			t.Errorf("Memory %d: collections read with the guard off", limit)
			return 0
		}
		h.mem.collect = func() { t.Errorf("Memory %d: collection with the guard off", limit) }
		mustHash(t, h, "correct horse battery staple")
		mustHash(t, h, "correct horse battery staple")
	}
}

// The budget is the limit less the headroom kept for the rest of latch:
// at the derived limit, the slots' areas and no more.
func TestMemoryGuardBudget(t *testing.T) {
	p := DefaultParams()
	for _, slots := range []int{1, 2, 3, 4} {
		g := newMemGuard(MemoryLimitFor(slots, p))
		if areas := g.budget / uint64(p.WorkingArea()); areas < uint64(slots) {
			t.Errorf("%d slots at the derived limit: budget holds %d areas, want at least %d", slots, areas, slots)
		}
	}
	if g := newMemGuard(MemoryLimitFor(2, p)); g.budget >= 3*uint64(p.WorkingArea()) {
		t.Errorf("two slots: budget %d MiB holds a third area; the peak would pass issue 15's 80 MiB", g.budget/mib)
	}
}

// A bcrypt verification allocates a few KiB, not a working area: the
// guard has nothing to do with it.
func TestMemoryGuardIgnoresBcrypt(t *testing.T) {
	h := newHasher(t, cheapParams, Limits{Memory: 64 << 20})
	h.mem.cycles = func() uint64 { t.Error("guard consulted for a bcrypt verification"); return 0 }
	stored, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.Verify(context.Background(), "pw", string(stored)); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

// With the real runtime and real areas: whenever a derivation starts, the
// heap holds at most the other slot's area besides a few MiB, never the
// areas of finished hashes as well.
func TestMemoryGuardWithTheRuntime(t *testing.T) {
	p := DefaultParams()
	h := newHasher(t, p, Limits{Concurrency: 2, Memory: MemoryLimitFor(2, p)})
	heap := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var mu sync.Mutex
	var peak uint64
	orig := h.derive
	h.derive = func(password, salt []byte, p Params) []byte {
		mu.Lock()
		metrics.Read(heap)
		peak = max(peak, heap[0].Value.Uint64())
		mu.Unlock()
		return orig(password, salt, p)
	}
	runtime.GC()
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for range 4 {
				if _, err := h.Hash(context.Background(), "correct horse battery staple"); err != nil {
					t.Errorf("Hash: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if area := uint64(p.WorkingArea()); peak >= 2*area {
		t.Errorf("heap objects when a derivation started: up to %d MiB, want under two areas (%d MiB)", peak/mib, 2*area/mib)
	}
	if h.Stats().Collections == 0 {
		t.Error("no forced collection in 8 hashes on 2 slots: finished areas were left to pile up")
	}
}

// gcCycles reads the real runtime's count of completed collections.
func TestGCCycles(t *testing.T) {
	cycles := gcCycles()
	before := cycles()
	runtime.GC()
	if after := cycles(); after <= before {
		t.Errorf("completed cycles %d after runtime.GC, want more than %d", after, before)
	}
}
