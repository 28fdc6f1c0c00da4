package server_test

import (
	"fmt"
	"net/http"
	"testing"
)

// One IPv6 client holds a whole /64 (RFC 6177 §2, RFC 7421: a /64 is the
// smallest network handed to a subscriber, and SLAAC privacy addresses
// rotate inside it), so per-address limits that key on the full /128 are
// beaten by rotating the low bits: 60 sprays from one /64 were 60 checked
// passwords. IPv6 clients are counted per /64, zone ids dropped, by the
// in-memory bucket and by the database throttle alike. OWASP ASVS 5.0
// V6.3.1 (brute-force controls that cannot be trivially bypassed); NIST
// SP 800-63B §5.2.2 (rate limiting).
func TestIPv6ClientsCountedPer64(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		h := newHarness(t, b, withEnv("LATCH_TRUSTED_PROXIES", "127.0.0.1"))
		checked, throttled := 0, 0
		for i := range 60 {
			r := h.do("POST", "/v1/token", "", map[string]any{"grant_type": "password", "email": fmt.Sprintf("spray%d@example.com", i), "password": "not the password"},
				"X-Forwarded-For", fmt.Sprintf("2001:db8:1:2:%x::%x", i*7+1, i+1))
			switch r.status {
			case http.StatusBadRequest:
				checked++
			case http.StatusTooManyRequests:
				throttled++
			default:
				t.Fatalf("spray %d: %d %s", i, r.status, r.body)
			}
		}
		// The address rule: 30 free failures, then a delay.
		if checked > 31 || throttled == 0 {
			t.Errorf("60 sprays from one /64: %d checked, %d throttled; want at most 31 checked", checked, throttled)
		}
		// Another /64 is another client.
		r := h.do("POST", "/v1/token", "", map[string]any{"grant_type": "password", "email": "other@example.com", "password": "not the password"},
			"X-Forwarded-For", "2001:db8:1:3::1")
		want(t, r, http.StatusBadRequest, "invalid_grant")

		// The in-memory bucket keys the same way.
		bk := newHarness(t, b, withEnv("LATCH_TRUSTED_PROXIES", "127.0.0.1", "LATCH_ADDRESS_RATE", "1", "LATCH_ADDRESS_BURST", "3"))
		login := func(addr string) response {
			return bk.do("POST", "/v1/token", "", map[string]any{"grant_type": "password", "email": "nobody@example.com", "password": "not the password"}, "X-Forwarded-For", addr)
		}
		for i, addr := range []string{"2001:db8:9:9::1", "2001:db8:9:9:ffff::2", "2001:db8:9:9:1:2:3:4", "[2001:db8:9:9::5]:443"} {
			r := login(addr)
			if i < 3 && r.status != http.StatusBadRequest {
				t.Fatalf("request %d from the /64: %d %s", i, r.status, r.body)
			}
			if i == 3 {
				want(t, r, http.StatusTooManyRequests, "rate_limited")
			}
		}
		want(t, login("2001:db8:9:a::1"), http.StatusBadRequest, "invalid_grant")
	})
}

// A session (and the audit trail and the notices) keeps the client's full
// address, though it is counted by its /64: IPv4-mapped IPv6 as IPv4, and
// without a zone id.
func TestClientAddressKept(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		cases := []struct{ name, xff, want string }{
			{"ipv6", "2001:db8:1:2:3:4:5:6", "2001:db8:1:2:3:4:5:6"},
			{"ipv6 with port", "[2001:db8:1:2::99]:4711", "2001:db8:1:2::99"},
			{"ipv6 with zone", "fe80::1%eth0", "fe80::1"},
			{"ipv4-mapped", "::ffff:203.0.113.9", "203.0.113.9"},
			{"ipv4", "203.0.113.10", "203.0.113.10"},
		}
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := h.do("POST", "/v1/signup", "", map[string]any{"email": fmt.Sprintf("kept%d@example.com", i), "password": goodPassword}, "X-Forwarded-For", c.xff)
				if ip := sessionIP(t, h, r.tokens(t).access); ip != c.want {
					t.Errorf("got %q, want %q", ip, c.want)
				}
			})
		}
	}, withEnv("LATCH_TRUSTED_PROXIES", "127.0.0.1"))
}

// Behind a proxy that writes only Forwarded (RFC 7239), a client that
// sends its own X-Forwarded-For chose its address: latch read XFF first.
// It now reads exactly one header, LATCH_CLIENT_IP_HEADER (default
// X-Forwarded-For), and never the other. OWASP ASVS 5.0 V4.1.3 (headers
// set by intermediaries cannot be overridden by the end user).
func TestClientIPHeaderIsOneHeader(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		both := []string{"Forwarded", `for=198.51.100.1;proto=https`, "X-Forwarded-For", "6.6.6.6"}
		fwd := newHarness(t, b, withEnv("LATCH_TRUSTED_PROXIES", "127.0.0.1", "LATCH_CLIENT_IP_HEADER", "Forwarded"))
		r := fwd.do("POST", "/v1/signup", "", map[string]any{"email": "fwd@example.com", "password": goodPassword}, both...)
		if ip := sessionIP(t, fwd, r.tokens(t).access); ip != "198.51.100.1" {
			t.Errorf("LATCH_CLIENT_IP_HEADER=Forwarded: got %q, want 198.51.100.1 from Forwarded (X-Forwarded-For is the client's)", ip)
		}
		r = fwd.do("POST", "/v1/signup", "", map[string]any{"email": "fwd6@example.com", "password": goodPassword}, "Forwarded", `for="[2001:db8::7]:4711";proto=https, for=127.0.0.1`)
		if ip := sessionIP(t, fwd, r.tokens(t).access); ip != "2001:db8::7" {
			t.Errorf("Forwarded with IPv6 and a trusted hop: got %q, want 2001:db8::7", ip)
		}
		r = fwd.do("POST", "/v1/signup", "", map[string]any{"email": "fwd-xff@example.com", "password": goodPassword}, "X-Forwarded-For", "6.6.6.6")
		if ip := sessionIP(t, fwd, r.tokens(t).access); ip != "127.0.0.1" {
			t.Errorf("LATCH_CLIENT_IP_HEADER=Forwarded, only X-Forwarded-For sent: got %q, want the peer 127.0.0.1", ip)
		}

		xff := newHarness(t, b, withEnv("LATCH_TRUSTED_PROXIES", "127.0.0.1"))
		r = xff.do("POST", "/v1/signup", "", map[string]any{"email": "xff@example.com", "password": goodPassword}, both...)
		if ip := sessionIP(t, xff, r.tokens(t).access); ip != "6.6.6.6" {
			t.Errorf("default header: got %q, want 6.6.6.6 from X-Forwarded-For", ip)
		}
		r = xff.do("POST", "/v1/signup", "", map[string]any{"email": "xff-fwd@example.com", "password": goodPassword}, "Forwarded", "for=198.51.100.1")
		if ip := sessionIP(t, xff, r.tokens(t).access); ip != "127.0.0.1" {
			t.Errorf("default header, only Forwarded sent: got %q, want the peer 127.0.0.1", ip)
		}
	})
}
