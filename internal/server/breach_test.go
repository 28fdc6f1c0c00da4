package server_test

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// rangeServer answers k-anonymity range queries for a few breached
// passwords, with count-0 padding, and counts its requests.
func rangeServer(t *testing.T, breached ...string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		prefix := strings.TrimPrefix(r.URL.Path, "/range/")
		for _, pw := range breached {
			sum := sha1.Sum([]byte(pw))
			h := strings.ToUpper(hex.EncodeToString(sum[:]))
			if h[:5] == prefix {
				fmt.Fprintf(w, "%s:%d\r\n", h[5:], 4021)
			}
		}
		for i := range 50 {
			fmt.Fprintf(w, "%035X:0\r\n", i)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func reasonCodes(t *testing.T, r response) []string {
	t.Helper()
	var codes []string
	for _, x := range r.json(t)["reasons"].([]any) {
		codes = append(codes, x.(map[string]any)["code"].(string))
	}
	return codes
}

// NIST SP 800-63B §3.1.1.2 and ASVS 5.0 V6.2.12: passwords known from
// breaches are refused, on signup and on password change alike.
func TestBreachedPasswordRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		const leaked = "my leaked passphrase 2019"
		srv, hits := rangeServer(t, leaked)
		h := newHarness(t, b, withEnv("LATCH_BREACHED_PASSWORDS_URL", srv.URL+"/range/"))
		r := h.do("POST", "/v1/signup", "", map[string]any{"email": "br@example.com", "password": leaked})
		want(t, r, http.StatusUnprocessableEntity, "weak_password")
		if codes := reasonCodes(t, r); !slices.Contains(codes, "breached") {
			t.Errorf("reasons: got %v, want breached", codes)
		}
		tk := h.signup("br@example.com")
		r = h.do("PATCH", "/v1/user", tk.access, map[string]any{"password": leaked, "current_password": goodPassword})
		want(t, r, http.StatusUnprocessableEntity, "weak_password")
		before := hits.Load()
		// A password refused locally never reaches the range service.
		want(t, h.do("POST", "/v1/signup", "", map[string]any{"email": "short@example.com", "password": "short"}), http.StatusUnprocessableEntity, "weak_password")
		if hits.Load() != before {
			t.Error("a locally refused password was looked up")
		}
	})
}

// When the range service is down: fail open by default, fail closed when
// configured.
func TestBreachServiceDown(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "down", http.StatusServiceUnavailable)
		}))
		defer down.Close()
		open := newHarness(t, b, withEnv("LATCH_BREACHED_PASSWORDS_URL", down.URL+"/range/"))
		open.signup("open@example.com")
		closed := newHarness(t, b, withEnv("LATCH_BREACHED_PASSWORDS_URL", down.URL+"/range/", "LATCH_BREACHED_PASSWORDS_FAIL_CLOSED", "on"))
		r := closed.do("POST", "/v1/signup", "", map[string]any{"email": "closed@example.com", "password": goodPassword})
		want(t, r, http.StatusUnprocessableEntity, "weak_password")
		if codes := reasonCodes(t, r); !slices.Contains(codes, "breach_check_unavailable") {
			t.Errorf("reasons: got %v", codes)
		}
	})
}
