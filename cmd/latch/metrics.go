package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/latchauth/latch/internal/password"
)

// registerHashMetrics exposes the password hasher's admission control:
// how many hashes run, how many wait, and how many were turned away.
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
			Name: "latch_password_hash_abandoned_total",
			Help: "Requests that gave up while waiting for a password-hashing slot.",
		}, func() float64 { return float64(h.Stats().Abandoned) }),
	)
}
