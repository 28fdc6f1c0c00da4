package server_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// An attacker script of a few hundred wrong passwords against one account,
// from one address and from many, is throttled (429 + Retry-After), while
// the real user, after the delay, still gets in: delays, never a lockout
// (NIST SP 800-63B §5.2.2; ASVS 5.0 V6.3.1).
func TestAttackerScriptThrottledOwnerGetsIn(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		h.signup("target@example.com")
		from := func(ip string) []string { return []string{"X-Forwarded-For", ip} }
		login := func(pw, ip string) response {
			return h.do("POST", "/v1/token", "", map[string]any{"grant_type": "password", "email": "target@example.com", "password": pw}, from(ip)...)
		}
		run := func(name string, addr func(i int) string) {
			t.Helper()
			tried, throttled := 0, 0
			for i := range 300 {
				r := login(fmt.Sprintf("guess number %d", i), addr(i))
				switch r.status {
				case http.StatusBadRequest:
					tried++
				case http.StatusTooManyRequests:
					throttled++
					if r.header.Get("Retry-After") == "" {
						t.Fatalf("%s: 429 without Retry-After", name)
					}
				default:
					t.Fatalf("%s: attempt %d: %d %s", name, i, r.status, r.body)
				}
				h.clock.Advance(100 * time.Millisecond) // a fast script: 10 tries a second
			}
			t.Logf("%s: 300 attempts in 30 s: %d checked, %d throttled", name, tried, throttled)
			if tried > 20 {
				t.Errorf("%s: %d passwords checked, want the script slowed to a handful", name, tried)
			}
			// The owner, from their own address, is held only until the
			// delay passes, then gets in.
			r := login(goodPassword, "198.51.100.7")
			if r.status == http.StatusTooManyRequests {
				wait := r.header.Get("Retry-After")
				var secs int
				fmt.Sscan(wait, &secs)
				if secs < 1 || secs > 3600 {
					t.Fatalf("%s: Retry-After %q, want 1..3600 s", name, wait)
				}
				h.clock.Advance(time.Duration(secs) * time.Second)
				r = login(goodPassword, "198.51.100.7")
			}
			want(t, r, http.StatusOK, "")
		}
		run("one address", func(int) string { return "203.0.113.66" })
		run("many addresses", func(i int) string { return fmt.Sprintf("10.%d.%d.%d", i/65536%256, i/256%256, i%256) })
	}, withEnv("LATCH_TRUSTED_PROXIES", "127.0.0.1"))
}
