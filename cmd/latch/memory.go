package main

import (
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
	"strconv"

	"github.com/latchauth/latch/internal/config"
	"github.com/latchauth/latch/internal/password"
)

// Where the soft memory limit comes from.
const (
	limitFromLatch   = "LATCH_MEMORY_LIMIT"
	limitFromGo      = "GOMEMLIMIT"
	limitFromDerived = "derived"
)

// memoryPlan is how much hashing latch does at once and the soft memory
// limit it keeps to, with what decided them, for the start-up log.
type memoryPlan struct {
	password.Sizing
	From      string // limitFrom*
	CPUs      int
	Container int64 // the container's memory limit in bytes; 0: none
	// GCPercent is the garbage collector's target percentage latch sets
	// (debug.SetGCPercent); 0 leaves the runtime's (GOGC's, or 100).
	GCPercent int
}

// gcPercent is the collector's target latch sets when the operator has
// not set GOGC and a soft memory limit bounds the heap. latch's live heap
// is small (3 MiB or so: keys, templates, catalogs), so with Go's default
// of 100 the heap may grow by only about 4 MiB between collections, and
// on cheap requests the collector took a sixth of the CPU: GET /v1/user
// used 136-155 µs of CPU a request at 100 and 92-129 µs at 400, in one
// interleaved run. Under sign-in load the soft limit, not this target,
// decides when to collect (64 concurrent sign-ins peaked at 75-77 MiB at
// 100 and 77-78 MiB at 400).
const gcPercent = 400

// hashSizing decides the password-hash slots and the soft memory limit
// (password.Size) from the configuration, the CPUs and the memory limit of
// the container, read under cgroupRoot ("/" but in tests).
//
// The limit is LATCH_MEMORY_LIMIT when set; else GOMEMLIMIT's, which the
// runtime has applied before latch started (runtimeLimit is what it made
// of it: debug.SetMemoryLimit(-1)); else derived from the slots. An
// unreadable cgroup file is returned as err beside a plan made without
// the container's limit: latch can run without knowing it, and the
// operator can set LATCH_HASH_CONCURRENCY and LATCH_MEMORY_LIMIT instead.
func hashSizing(cfg config.Config, getenv func(string) string, runtimeLimit int64, cpus int, cgroupRoot string) (memoryPlan, error) {
	plan := memoryPlan{CPUs: cpus, From: limitFromDerived}
	r := password.Resources{Concurrency: cfg.Passwords.HashConcurrency, CPUs: cpus}
	switch {
	case cfg.Passwords.MemoryLimit != 0:
		r.MemoryLimit, plan.From = cfg.Passwords.MemoryLimit, limitFromLatch
	case getenv("GOMEMLIMIT") != "":
		r.MemoryLimit, plan.From = runtimeLimit, limitFromGo
	}
	container, ok, err := password.ContainerMemory(cgroupRoot)
	if ok {
		r.ContainerMemory, plan.Container = container, container
	}
	plan.Sizing = password.Size(r, password.DefaultParams())
	if getenv("GOGC") == "" && plan.MemoryLimit > 0 && plan.MemoryLimit < math.MaxInt64 {
		plan.GCPercent = gcPercent
	}
	return plan, err
}

// applyMemoryLimit sets the runtime's soft memory limit to the plan's,
// unless it is GOMEMLIMIT's (already in effect), and the collector's
// target when the plan has one; it logs the plan and returns what
// restores the previous settings.
func applyMemoryLimit(plan memoryPlan, log *slog.Logger) (restore func()) {
	prevLimit, prevGC := int64(-1), -1
	if plan.From != limitFromGo {
		prevLimit = debug.SetMemoryLimit(plan.MemoryLimit)
	}
	if plan.GCPercent > 0 {
		prevGC = debug.SetGCPercent(plan.GCPercent)
	}
	restore = func() {
		if prevLimit >= 0 {
			debug.SetMemoryLimit(prevLimit)
		}
		if prevGC >= 0 {
			debug.SetGCPercent(prevGC)
		}
	}
	gc := "GOGC or 100"
	if plan.GCPercent > 0 {
		gc = strconv.Itoa(plan.GCPercent)
	}
	log.Info("password hashing sized", "event", "hash.sizing",
		"slots", plan.Slots, "slots_bound_by", plan.BoundBy, "cpus", plan.CPUs,
		"container_memory", mib(plan.Container), "memory_limit", mib(plan.MemoryLimit), "memory_limit_from", plan.From,
		"gc_percent", gc)
	if plan.Overcommitted {
		log.Warn(fmt.Sprintf("%d password-hash slots need a soft memory limit of %s (argon2id's %s each and half as much again), more than the container's memory or the memory limit allows; lower LATCH_HASH_CONCURRENCY or raise the limit",
			plan.Slots, mib(password.MemoryLimitFor(plan.Slots, password.DefaultParams())), mib(password.DefaultParams().WorkingArea())),
			"event", "hash.overcommitted")
	}
	return restore
}

// mib formats a byte count for the log: "57MiB", or "none".
func mib(n int64) string {
	if n <= 0 || n == math.MaxInt64 {
		return "none"
	}
	return fmt.Sprintf("%.0fMiB", float64(n)/(1<<20))
}
