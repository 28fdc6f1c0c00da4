package server_test

import (
	"net/http"
	"testing"
)

// The client address comes from X-Forwarded-For only when the connection
// is from a trusted proxy, walking from the right past trusted hops.
func TestClientAddress(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		direct := newHarness(t, b)
		r := direct.do("POST", "/v1/signup", "", map[string]any{"email": "ip1@example.com", "password": goodPassword}, "X-Forwarded-For", "203.0.113.9")
		tk := r.tokens(t)
		if ip := sessionIP(t, direct, tk.access); ip != "127.0.0.1" {
			t.Errorf("untrusted peer: got %q, want the peer 127.0.0.1 (a client cannot forge its address)", ip)
		}

		h := newHarness(t, b, withEnv("LATCH_TRUSTED_PROXIES", "127.0.0.1,10.0.0.0/8"))
		cases := []struct {
			name   string
			header []string
			want   string
		}{
			{"xff", []string{"X-Forwarded-For", "203.0.113.9"}, "203.0.113.9"},
			{"client forges a left entry", []string{"X-Forwarded-For", "1.2.3.4, 203.0.113.9, 10.1.2.3"}, "203.0.113.9"},
			// Only LATCH_CLIENT_IP_HEADER is read (X-Forwarded-For by
			// default): TestClientIPHeaderIsOneHeader.
			{"forwarded is not the configured header", []string{"Forwarded", `for="[2001:db8::7]:4711";proto=https`}, "127.0.0.1"},
			{"garbage", []string{"X-Forwarded-For", "not-an-ip"}, "127.0.0.1"},
			{"none", nil, "127.0.0.1"},
		}
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				email := "ip-" + string(rune('a'+i)) + "@example.com"
				r := h.do("POST", "/v1/signup", "", map[string]any{"email": email, "password": goodPassword}, c.header...)
				if ip := sessionIP(t, h, r.tokens(t).access); ip != c.want {
					t.Errorf("got %q, want %q", ip, c.want)
				}
			})
		}
	})
}

func sessionIP(t *testing.T, h *harness, access string) string {
	t.Helper()
	r := h.do("GET", "/v1/sessions", access, nil)
	want(t, r, http.StatusOK, "")
	list := r.json(t)["sessions"].([]any)
	return list[0].(map[string]any)["ip"].(string)
}

// CORS: an explicit allow-list, the exact origin echoed with Vary:
// Origin, never "*", "null" refused; credentials mode only on the two
// endpoints that use the refresh cookie (/v1/token, /v1/logout).
func TestCORS(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		pre := func(origin string) response {
			return h.do("OPTIONS", "/v1/token", "", nil, "Origin", origin, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type")
		}
		r := pre("https://app.example.com")
		if r.status != http.StatusNoContent || r.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
			t.Fatalf("allowed preflight: %d %v", r.status, r.header)
		}
		if r.header.Get("Access-Control-Allow-Credentials") != "true" {
			t.Error("no Access-Control-Allow-Credentials on /v1/token")
		}
		r = h.do("OPTIONS", "/v1/user", "", nil, "Origin", "https://app.example.com", "Access-Control-Request-Method", "GET")
		if r.status != http.StatusNoContent || r.header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("preflight of /v1/user: %d, credentials %q", r.status, r.header.Get("Access-Control-Allow-Credentials"))
		}
		for _, bad := range []string{"https://evil.example.com", "null", "https://app.example.com.evil.io", "http://app.example.com"} {
			r := pre(bad)
			want(t, r, http.StatusForbidden, "forbidden")
			if got := r.header.Get("Access-Control-Allow-Origin"); got != "" {
				t.Errorf("origin %q: Access-Control-Allow-Origin %q", bad, got)
			}
		}
		r = h.do("GET", "/healthz", "", nil, "Origin", "https://app.example.com")
		if r.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || r.header.Get("Vary") != "Origin" {
			t.Errorf("simple request: %v", r.header)
		}
		r = h.do("GET", "/healthz", "", nil, "Origin", "https://evil.example.com")
		if r.header.Get("Access-Control-Allow-Origin") != "" || r.header.Get("Vary") != "Origin" {
			t.Errorf("disallowed simple request: %v", r.header)
		}
	}, withEnv("LATCH_CORS_ORIGINS", "https://app.example.com"))
}

// A flood from one address is turned away in memory with 429 before it
// reaches the database or the hasher.
func TestAddressRateLimit(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		tk := h.signup("bucket@example.com")
		for i := range 2 {
			want(t, h.login("nobody@example.com", "wrong password "+string(rune('a'+i))), http.StatusBadRequest, "invalid_grant")
		}
		r := h.login("bucket@example.com", goodPassword)
		want(t, r, http.StatusTooManyRequests, "rate_limited")
		if r.header.Get("Retry-After") != "1" {
			t.Errorf("Retry-After: got %q, want 1", r.header.Get("Retry-After"))
		}
		// Refreshes cost no hash and are not limited by it.
		for range 5 {
			r := h.refresh(tk.refresh)
			want(t, r, http.StatusOK, "")
			tk.refresh = r.tokens(t).refresh
		}
		// Other endpoints are not limited by it.
		want(t, h.do("GET", "/healthz", "", nil), http.StatusOK, "")
	}, withEnv("LATCH_ADDRESS_RATE", "1", "LATCH_ADDRESS_BURST", "3"))
}
