package server

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/config"
	"github.com/latchauth/latch/internal/i18n"
	"github.com/latchauth/latch/internal/ratelimit"
)

// Keys is what the server needs of the signing keys; *token.Manager
// implements it.
type Keys interface {
	JWKS() []byte
	Algorithms() []string
	Ready() bool
}

// Pinger checks the database; store.Store implements it.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Deps are everything the HTTP layer needs.
type Deps struct {
	Config   config.Config
	Auth     *auth.Service
	Keys     Keys
	DB       Pinger
	Log      *slog.Logger
	Registry *prometheus.Registry // metrics are registered here and served by Metrics
	Version  string
	// Buckets limits each client address on the credential endpoints;
	// nil: no limit.
	Buckets *ratelimit.Buckets
}

// Server is latch's HTTP handler.
type Server struct {
	cfg     config.Config
	auth    *auth.Service
	keys    Keys
	db      Pinger
	log     *slog.Logger
	metrics *metrics
	version string
	buckets *ratelimit.Buckets
	handler http.Handler
	reg     *prometheus.Registry
	catalog *i18n.Catalog
}

// New builds the handler with every route and middleware.
func New(d Deps) *Server {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	s := &Server{
		cfg:     d.Config,
		auth:    d.Auth,
		keys:    d.Keys,
		db:      d.DB,
		log:     d.Log,
		metrics: newMetrics(d.Registry, d.Version),
		version: d.Version,
		buckets: d.Buckets,
		reg:     d.Registry,
		catalog: i18n.MustLoad(),
	}
	s.handler = s.middleware(s.routes())
	return s
}

// ServeHTTP serves one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }
