package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/latchauth/latch/internal/password"
	"github.com/latchauth/latch/internal/store"
)

// registerHashMetrics exposes the password hasher's admission control:
// how many hashes run, how many wait, and how many were turned away; and
// its memory guard: how many collections it ran.
func registerHashMetrics(reg prometheus.Registerer, h *password.Hasher) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "latch_password_hashes_in_flight",
			Help: "Password hashes being computed now.",
		}, func() float64 { return float64(h.Stats().InFlight) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "latch_password_hash_queue_depth",
			Help: "Requests waiting for a password-hashing slot.",
		}, func() float64 { return float64(h.Stats().Waiting) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "latch_password_hash_rejections_total",
			Help: "Requests answered 503 because password hashing was saturated.",
		}, func() float64 { return float64(h.Stats().Rejected) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "latch_password_hash_queued_total",
			Help: "Requests that waited in the queue for a password-hashing slot and got one.",
		}, func() float64 { return float64(h.Stats().Queued) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "latch_password_hash_queue_wait_seconds_total",
			Help: "Time requests spent queued for a password-hashing slot; divide by latch_password_hash_queued_total for the mean wait.",
		}, func() float64 { return h.Stats().WaitTotal.Seconds() }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "latch_password_hash_abandoned_total",
			Help: "Requests that gave up while waiting for a password-hashing slot.",
		}, func() float64 { return float64(h.Stats().Abandoned) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "latch_password_hash_collections_total",
			Help: "Garbage collections run before a hash so that its working area reuses a finished one's memory instead of passing the soft memory limit.",
		}, func() float64 { return float64(h.Stats().Collections) }),
	)
}

// registerPoolMetrics exposes the database connection pool when the
// backend reports it.
func registerPoolMetrics(reg prometheus.Registerer, db any) {
	p, ok := db.(interface{ PoolStats() store.PoolStats })
	if !ok {
		return
	}
	gauge := func(name, help string, f func(store.PoolStats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return f(p.PoolStats()) })
	}
	counter := func(name, help string, f func(store.PoolStats) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return f(p.PoolStats()) })
	}
	reg.MustRegister(
		gauge("latch_db_connections_open", "Open database connections.", func(s store.PoolStats) float64 { return float64(s.Open) }),
		gauge("latch_db_connections_in_use", "Database connections in use.", func(s store.PoolStats) float64 { return float64(s.InUse) }),
		gauge("latch_db_connections_idle", "Idle database connections.", func(s store.PoolStats) float64 { return float64(s.Idle) }),
		counter("latch_db_connection_waits_total", "Times a request waited for a database connection.", func(s store.PoolStats) float64 { return float64(s.WaitCount) }),
		counter("latch_db_connection_wait_seconds_total", "Time spent waiting for database connections.", func(s store.PoolStats) float64 { return s.WaitDuration.Seconds() }),
	)
}
