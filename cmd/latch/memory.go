package main

import (
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"

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
}

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
	return plan, err
}

// applyMemoryLimit sets the runtime's soft memory limit to the plan's,
// unless it is GOMEMLIMIT's (already in effect), logs the plan, and
// returns what restores the previous limit.
func applyMemoryLimit(plan memoryPlan, log *slog.Logger) (restore func()) {
	restore = func() {}
	if plan.From != limitFromGo {
		prev := debug.SetMemoryLimit(plan.MemoryLimit)
		restore = func() { debug.SetMemoryLimit(prev) }
	}
	log.Info("password hashing sized", "event", "hash.sizing",
		"slots", plan.Slots, "slots_bound_by", plan.BoundBy, "cpus", plan.CPUs,
		"container_memory", mib(plan.Container), "memory_limit", mib(plan.MemoryLimit), "memory_limit_from", plan.From)
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
