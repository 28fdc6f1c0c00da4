package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/latchauth/latch/internal/password"
	"github.com/latchauth/latch/internal/store"
)

// statMetrics returns makers of gauges and counters that each show one
// number from stats, read afresh at every scrape.
func statMetrics[S any](stats func() S) (gauge, counter func(name, help string, f func(S) float64) prometheus.Collector) {
	gauge = func(name, help string, f func(S) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return f(stats()) })
	}
	counter = func(name, help string, f func(S) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return f(stats()) })
	}
	return gauge, counter
}

// registerHashMetrics exposes the password hasher's admission control:
// how many hashes run, how many wait, and how many were turned away; and
// its memory guard: how many collections it ran.
func registerHashMetrics(reg prometheus.Registerer, h *password.Hasher) {
	gauge, counter := statMetrics(h.Stats)
	reg.MustRegister(
		gauge("latch_password_hashes_in_flight", "Password hashes being computed now.",
			func(s password.Stats) float64 { return float64(s.InFlight) }),
		gauge("latch_password_hash_queue_depth", "Requests waiting for a password-hashing slot.",
			func(s password.Stats) float64 { return float64(s.Waiting) }),
		counter("latch_password_hash_rejections_total", "Requests answered 503 because password hashing was saturated.",
			func(s password.Stats) float64 { return float64(s.Rejected) }),
		counter("latch_password_hash_queued_total", "Requests that waited in the queue for a password-hashing slot and got one.",
			func(s password.Stats) float64 { return float64(s.Queued) }),
		counter("latch_password_hash_queue_wait_seconds_total", "Time requests spent queued for a password-hashing slot; divide by latch_password_hash_queued_total for the mean wait.",
			func(s password.Stats) float64 { return s.WaitTotal.Seconds() }),
		counter("latch_password_hash_abandoned_total", "Requests that gave up while waiting for a password-hashing slot.",
			func(s password.Stats) float64 { return float64(s.Abandoned) }),
		counter("latch_password_hash_collections_total", "Garbage collections run before a hash so that its working area reuses a finished one's memory instead of passing the soft memory limit.",
			func(s password.Stats) float64 { return float64(s.Collections) }),
	)
}

// registerPoolMetrics exposes the database connection pool when the
// backend reports it.
func registerPoolMetrics(reg prometheus.Registerer, db any) {
	p, ok := db.(interface{ PoolStats() store.PoolStats })
	if !ok {
		return
	}
	gauge, counter := statMetrics(p.PoolStats)
	reg.MustRegister(
		gauge("latch_db_connections_open", "Open database connections.", func(s store.PoolStats) float64 { return float64(s.Open) }),
		gauge("latch_db_connections_in_use", "Database connections in use.", func(s store.PoolStats) float64 { return float64(s.InUse) }),
		gauge("latch_db_connections_idle", "Idle database connections.", func(s store.PoolStats) float64 { return float64(s.Idle) }),
		counter("latch_db_connection_waits_total", "Times a request waited for a database connection.", func(s store.PoolStats) float64 { return float64(s.WaitCount) }),
		counter("latch_db_connection_wait_seconds_total", "Time spent waiting for database connections.", func(s store.PoolStats) float64 { return s.WaitDuration.Seconds() }),
	)
}
