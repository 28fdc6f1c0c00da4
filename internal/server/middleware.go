package server

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/latchauth/latch/internal/apperr"
	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/ratelimit"
)

type ctxKey int

const (
	ctxRequestID ctxKey = iota
	ctxClientIP
	ctxClientKey
)

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxRequestID).(string)
	return id
}

// clientIP is the client's address, as sessions and the audit trail
// record it.
func clientIP(ctx context.Context) string {
	ip, _ := ctx.Value(ctxClientIP).(string)
	return ip
}

// clientKey is the client as the per-address bucket counts it
// (ratelimit.AddressKey): an IPv4 address, or an IPv6 client's /64.
func clientKey(ctx context.Context) string {
	k, _ := ctx.Value(ctxClientKey).(string)
	return k
}

// validRequestID accepts a caller's X-Request-Id only if it is short and
// plain, so it cannot forge log lines.
func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// withPlainUserAgent returns r with its User-Agent made storable: HTTP
// allows any byte from 0x80 up in a header (obs-text, RFC 9110 §5.5), so
// a Latin-1 browser sends bytes that are not UTF-8, which PostgreSQL
// refuses in text (SQLSTATE 22021) — such a client could never sign in.
// Every handler and the session row then see the same cleaned value: bad
// bytes become U+FFFD and NUL is dropped. The header map is copied only
// when something changes, so the common request pays one scan.
func withPlainUserAgent(r *http.Request) *http.Request {
	ua := r.Header.Values("User-Agent")
	if len(ua) == 0 || len(ua) == 1 && plainText(ua[0]) {
		return r
	}
	clean := strings.ReplaceAll(strings.ToValidUTF8(ua[0], "\uFFFD"), "\x00", "")
	r2 := r.Clone(r.Context())
	r2.Header.Set("User-Agent", clean)
	return r2
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// middleware wraps every request: request id and client address in the
// context and the logs, security headers, a JSON 500 for a panic, one log
// line and metrics per request.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = rand.Text()
		}
		ip := s.clientAddress(r)
		r = withPlainUserAgent(r)
		// A database that hangs instead of refusing must still give the
		// client an answer (503) in bounded time.
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.HTTP.RequestTimeout)
		defer cancel()
		ctx = context.WithValue(ctx, ctxRequestID, id)
		ctx = context.WithValue(ctx, ctxClientIP, ip)
		ctx = context.WithValue(ctx, ctxClientKey, ratelimit.AddressKey(ip))
		ctx = auth.WithRequester(ctx, auth.Requester{IP: ip, UserAgent: r.UserAgent(), Lang: s.lang(r)})
		r = r.WithContext(ctx)

		h := w.Header()
		h.Set("X-Request-Id", id)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		// Every answer is private unless its handler says otherwise (JWKS
		// and discovery do): tokens and user data must never be cached
		// (RFC 6749 §5.1).
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}

		sw := &statusWriter{ResponseWriter: w}
		if s.cors(sw, r) {
			s.metrics.observe("preflight", r.Method, sw.status, time.Since(start))
			return
		}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.ErrorContext(ctx, "panic serving request", "panic", p, "request_id", id)
				if sw.status == 0 {
					s.writeError(sw, r, apperr.Internal(fmt.Errorf("panic: %v", p)))
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			elapsed := time.Since(start)
			s.metrics.observe(route, r.Method, sw.status, elapsed)
			s.log.InfoContext(ctx, "request",
				"request_id", id, "ip", ip, "method", r.Method, "route", route,
				"status", sw.status, "duration_ms", strconv.FormatFloat(float64(elapsed.Microseconds())/1000, 'f', 2, 64))
		}()
		next.ServeHTTP(sw, r)
	})
}

func (s *Server) requester(r *http.Request) auth.Requester {
	return auth.Requester{IP: clientIP(r.Context()), UserAgent: r.UserAgent(), Lang: s.lang(r)}
}

// lang is the language of latch's catalog the request's Accept-Language
// asks for: the language of the pages, and of the messages the request
// causes.
func (s *Server) lang(r *http.Request) string {
	return s.catalog.Match(r.Header.Get("Accept-Language")).Tag()
}
