package main

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/store/postgres/pgtest"
)

// Three latch processes on one PostgreSQL behave as one server: a refresh
// token rotated on one is re-use on another, logout on one is seen by
// all, throttling counts across all, and a key rotation reaches all
// without a failed request.
func TestThreeInstances(t *testing.T) {
	dbURL := pgtest.URL(t)
	dir := t.TempDir()
	env := []string{"LATCH_DATABASE_URL=" + dbURL, "LATCH_SECRET_KEY=multi-secret-key-0123456789abcdef0123456789",
		"LATCH_KEY_RELOAD_INTERVAL=1s", "LATCH_PUBLIC_URL=http://latch.test"}
	var nodes []*proc
	for range 3 {
		nodes = append(nodes, start(t, dir, env...))
	}
	var next atomic.Int64
	node := func() string { return nodes[next.Add(1)%3].url }
	const pw = "a long and lovely passphrase"

	expect(t, "signup", do(t, "POST", node()+"/v1/signup", "", map[string]any{"email": "multi@example.com", "password": pw}), 201)

	t.Run("refresh re-use across instances", func(t *testing.T) {
		r := expect(t, "login", do(t, "POST", nodes[0].url+"/v1/token", "", map[string]any{"grant_type": "password", "email": "multi@example.com", "password": pw}), 200)
		rt0 := r.body["refresh_token"].(string)
		r = expect(t, "rotate on B", do(t, "POST", nodes[1].url+"/v1/token", "", map[string]any{"grant_type": "refresh_token", "refresh_token": rt0}), 200)
		rt1 := r.body["refresh_token"].(string)
		r = expect(t, "rotate on C", do(t, "POST", nodes[2].url+"/v1/token", "", map[string]any{"grant_type": "refresh_token", "refresh_token": rt1}), 200)
		access := r.body["access_token"].(string)
		// rt0 is now a grandparent: presenting it on A is re-use.
		expect(t, "re-use on A", do(t, "POST", nodes[0].url+"/v1/token", "", map[string]any{"grant_type": "refresh_token", "refresh_token": rt0}), 400)
		for i, n := range nodes {
			expect(t, fmt.Sprintf("revoked session on node %d", i), do(t, "GET", n.url+"/v1/user", access, nil), 401)
		}
	})

	t.Run("logout on one is seen by all", func(t *testing.T) {
		r := expect(t, "login", do(t, "POST", nodes[2].url+"/v1/token", "", map[string]any{"grant_type": "password", "email": "multi@example.com", "password": pw}), 200)
		access := r.body["access_token"].(string)
		for i, n := range nodes {
			expect(t, fmt.Sprintf("user on node %d", i), do(t, "GET", n.url+"/v1/user", access, nil), 200)
		}
		expect(t, "logout on B", do(t, "POST", nodes[1].url+"/v1/logout", access, nil), 204)
		for i, n := range nodes {
			expect(t, fmt.Sprintf("after logout on node %d", i), do(t, "GET", n.url+"/v1/user", access, nil), 401)
		}
	})

	t.Run("throttling counts across instances", func(t *testing.T) {
		// Five failures spread over three instances, then the sixth: the
		// account+address counter is shared, so the next try is held.
		for i := range 6 {
			expect(t, "wrong password", do(t, "POST", node()+"/v1/token", "", map[string]any{"grant_type": "password", "email": "multi@example.com", "password": fmt.Sprintf("wrong password %d", i)}), 400)
		}
		for i, n := range nodes {
			r := expect(t, fmt.Sprintf("throttled on node %d", i), do(t, "POST", n.url+"/v1/token", "", map[string]any{"grant_type": "password", "email": "multi@example.com", "password": pw}), 429)
			if r.header.Get("Retry-After") == "" {
				t.Error("no Retry-After")
			}
		}
		if out, code := runCLIEnv(t, dir, env, "user", "unlock", "multi@example.com"); code != 0 {
			t.Fatalf("unlock: %d %s", code, out)
		}
	})

	t.Run("key rotation reaches all without a failed request", func(t *testing.T) {
		// The throttle above slowed this address for a second.
		time.Sleep(1100 * time.Millisecond)
		r := expect(t, "login", do(t, "POST", node()+"/v1/token", "", map[string]any{"grant_type": "password", "email": "multi@example.com", "password": pw}), 200)
		rt := r.body["refresh_token"].(string)
		var failures atomic.Int64
		kids := sync.Map{}
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				select {
				case <-stop:
					return
				default:
				}
				r := do(t, "POST", node()+"/v1/token", "", map[string]any{"grant_type": "refresh_token", "refresh_token": rt})
				if r.status != 200 {
					failures.Add(1)
					t.Errorf("refresh: %d %v", r.status, r.body)
					return
				}
				rt = r.body["refresh_token"].(string)
				tok := r.body["access_token"].(string)
				kid, _ := decodeHeader(tok)
				kids.Store(kid, true)
				for i, n := range nodes {
					if r := do(t, "GET", n.url+"/v1/user", tok, nil); r.status != 200 {
						failures.Add(1)
						t.Errorf("node %d refused a token of kid %s: %d %v", i, kid, r.status, r.body)
					}
				}
			}
		}()
		time.Sleep(time.Second)
		if out, code := runCLIEnv(t, dir, env, "keys", "rotate", "--force"); code != 0 || !strings.Contains(out, "rotated") {
			t.Fatalf("rotate: %d %s", code, out)
		}
		time.Sleep(3 * time.Second) // > LATCH_KEY_RELOAD_INTERVAL
		close(stop)
		<-done
		n := 0
		kids.Range(func(_, _ any) bool { n++; return true })
		if failures.Load() != 0 || n != 2 {
			t.Fatalf("%d failed requests (want 0); tokens signed by %d keys (want 2: before and after)", failures.Load(), n)
		}
	})
	for _, n := range nodes {
		n.stop(t)
	}
}

// runCLIEnv runs a latch command with the given LATCH_* environment.
func runCLIEnv(t *testing.T, dir string, env []string, args ...string) (string, int) {
	t.Helper()
	return runCLIWith(t, dir, env, "", args...)
}
