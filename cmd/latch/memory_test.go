package main

import (
	"bytes"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/latchauth/latch/internal/config"
)

// cgroupV2 writes a cgroup v2 fixture whose own group is limited to limit
// (memory.max's text) and returns its root.
func cgroupV2(t *testing.T, limit string) string {
	t.Helper()
	root := t.TempDir()
	err := os.CopyFS(root, fstest.MapFS{
		"proc/self/cgroup":         {Data: []byte("0::/\n")},
		"proc/self/mountinfo":      {Data: []byte("35 24 0:30 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n")},
		"sys/fs/cgroup/memory.max": {Data: []byte(limit + "\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func loadConfig(t *testing.T, env map[string]string) config.Config {
	t.Helper()
	cfg, err := config.Load(config.Sources{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Requirement: DESIGN "Passwords and abuse" — LATCH_MEMORY_LIMIT (default:
// from the hash slots and parameters, or GOMEMLIMIT when set) is the soft
// limit; the slots follow the container's memory as well as its CPUs.
func TestHashSizing(t *testing.T) {
	const mib = 1 << 20
	noCgroup := t.TempDir()
	for _, tc := range []struct {
		name         string
		env          map[string]string // latch's and Go's environment
		runtimeLimit int64             // what the runtime made of GOMEMLIMIT
		cpus         int
		cgroupRoot   string
		slots        int
		limit        int64
		from         string
	}{
		{"derived from two slots", nil, math.MaxInt64, 2, noCgroup, 2, 57 * mib, limitFromDerived},
		{"GOMEMLIMIT when set", map[string]string{"GOMEMLIMIT": "200MiB"}, 200 * mib, 4, noCgroup, 4, 200 * mib, limitFromGo},
		{"GOMEMLIMIT bounds the slots", map[string]string{"GOMEMLIMIT": "96MiB"}, 96 * mib, 8, noCgroup, 3, 96 * mib, limitFromGo},
		{"GOMEMLIMIT=off: no limit", map[string]string{"GOMEMLIMIT": "off"}, math.MaxInt64, 2, noCgroup, 2, math.MaxInt64, limitFromGo},
		{"LATCH_MEMORY_LIMIT over GOMEMLIMIT", map[string]string{"GOMEMLIMIT": "200MiB", "LATCH_MEMORY_LIMIT": "64MiB"}, 200 * mib, 2, noCgroup, 2, 64 * mib, limitFromLatch},
		{"LATCH_MEMORY_LIMIT=off", map[string]string{"LATCH_MEMORY_LIMIT": "off"}, math.MaxInt64, 2, noCgroup, 2, math.MaxInt64, limitFromLatch},
		{"a 96 MiB container holds two of four CPUs' slots", nil, math.MaxInt64, 4, cgroupV2(t, "100663296"), 2, 57 * mib, limitFromDerived},
		{"an unlimited container: the CPUs decide", nil, math.MaxInt64, 4, cgroupV2(t, "max"), 4, 114 * mib, limitFromDerived},
		{"LATCH_HASH_CONCURRENCY is kept", map[string]string{"LATCH_HASH_CONCURRENCY": "1"}, math.MaxInt64, 4, noCgroup, 1, 35 * mib, limitFromDerived},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string { return tc.env[k] }
			plan, err := hashSizing(loadConfig(t, tc.env), getenv, tc.runtimeLimit, tc.cpus, tc.cgroupRoot)
			if err != nil {
				t.Fatalf("hashSizing: %v", err)
			}
			if plan.Slots != tc.slots || plan.MemoryLimit != tc.limit || plan.From != tc.from {
				t.Errorf("slots %d, limit %d MiB from %s; want %d, %d MiB from %s",
					plan.Slots, plan.MemoryLimit/mib, plan.From, tc.slots, tc.limit/mib, tc.from)
			}
		})
	}
}

// An unreadable cgroup is reported, and latch still gets a plan from its
// CPUs.
func TestHashSizingBadCgroup(t *testing.T) {
	plan, err := hashSizing(loadConfig(t, nil), func(string) string { return "" }, math.MaxInt64, 2, cgroupV2(t, "lots"))
	if err == nil || !strings.Contains(err.Error(), "memory.max") {
		t.Errorf("err = %v, want one naming memory.max", err)
	}
	if plan.Slots != 2 || plan.MemoryLimit != 57<<20 {
		t.Errorf("plan = %+v, want 2 slots and 57 MiB", plan.Sizing)
	}
}

// latch raises the collector's target only where the operator has not set
// GOGC and a soft memory limit bounds the heap.
func TestHashSizingGCPercent(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want int
	}{
		{"derived limit", nil, gcPercent},
		{"GOMEMLIMIT", map[string]string{"GOMEMLIMIT": "200MiB"}, gcPercent},
		{"GOGC is the operator's", map[string]string{"GOGC": "150"}, 0},
		{"no limit, no raise", map[string]string{"LATCH_MEMORY_LIMIT": "off"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runtimeLimit := int64(math.MaxInt64)
			if tc.env["GOMEMLIMIT"] != "" {
				runtimeLimit = 200 << 20
			}
			plan, err := hashSizing(loadConfig(t, tc.env), func(k string) string { return tc.env[k] }, runtimeLimit, 2, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if plan.GCPercent != tc.want {
				t.Errorf("GCPercent = %d, want %d", plan.GCPercent, tc.want)
			}
		})
	}
}

// gcPercentNow reads the collector's target without changing it.
func gcPercentNow() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// The derived or configured limit is applied to the runtime and restored
// afterwards; GOMEMLIMIT's is left as the runtime set it. So is the
// collector's target.
func TestApplyMemoryLimit(t *testing.T) {
	const big = 1 << 40 // high enough not to make this test's GC work
	prev := debug.SetMemoryLimit(-1)
	log := slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))

	plan := memoryPlan{From: limitFromDerived}
	plan.Slots, plan.MemoryLimit = 2, big
	restore := applyMemoryLimit(plan, log)
	if got := debug.SetMemoryLimit(-1); got != big {
		t.Errorf("runtime limit = %d, want %d", got, int64(big))
	}
	restore()
	if got := debug.SetMemoryLimit(-1); got != prev {
		t.Errorf("after restore: runtime limit = %d, want the previous %d", got, prev)
	}

	plan.From, plan.MemoryLimit = limitFromGo, big/2
	restore = applyMemoryLimit(plan, log)
	if got := debug.SetMemoryLimit(-1); got != prev {
		t.Errorf("GOMEMLIMIT's plan: runtime limit = %d, want it untouched (%d)", got, prev)
	}
	restore()

	prevGC := gcPercentNow()
	plan.GCPercent = gcPercent
	restore = applyMemoryLimit(plan, log)
	if got := gcPercentNow(); got != gcPercent {
		t.Errorf("GC percent = %d, want %d", got, gcPercent)
	}
	restore()
	if got := gcPercentNow(); got != prevGC {
		t.Errorf("after restore: GC percent = %d, want the previous %d", got, prevGC)
	}
	plan.GCPercent = 0
	applyMemoryLimit(plan, log)()
	if got := gcPercentNow(); got != prevGC {
		t.Errorf("a plan without a target: GC percent = %d, want it untouched (%d)", got, prevGC)
	}
}

// The start-up log says how hashing was sized, and warns when the slots
// cannot fit.
func TestApplyMemoryLimitLogs(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	plan := memoryPlan{From: limitFromGo, CPUs: 8, Container: 128 << 20}
	plan.Slots, plan.MemoryLimit, plan.BoundBy, plan.Overcommitted = 6, 96<<20, "configured", true
	applyMemoryLimit(plan, log)()
	out := buf.String()
	for _, want := range []string{"event=hash.sizing", "slots=6", "cpus=8", "container_memory=128MiB", "memory_limit=96MiB", "memory_limit_from=GOMEMLIMIT", "gc_percent=\"GOGC or 100\"", "event=hash.overcommitted", "LATCH_HASH_CONCURRENCY"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}
