package main

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/e2e"
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
		"LATCH_KEY_RELOAD_INTERVAL=1s", "LATCH_PUBLIC_URL=http://latch.test", "LATCH_UI=off"}
	var nodes []*e2e.Proc
	for range 3 {
		nodes = append(nodes, e2e.Start(t, dir, env...))
	}
	var next atomic.Int64
	node := func() string { return nodes[next.Add(1)%3].URL }
	const pw = "a long and lovely passphrase"

	e2e.Expect(t, "signup", e2e.Do(t, "POST", node()+"/v1/signup", "", map[string]any{"email": "multi@example.com", "password": pw}), 201)

	t.Run("refresh re-use across instances", func(t *testing.T) {
		r := e2e.Expect(t, "login", e2e.Do(t, "POST", nodes[0].URL+"/v1/token", "", map[string]any{"grant_type": "password", "email": "multi@example.com", "password": pw}), 200)
		rt0 := r.Body["refresh_token"].(string)
		r = e2e.Expect(t, "rotate on B", e2e.Do(t, "POST", nodes[1].URL+"/v1/token", "", map[string]any{"grant_type": "refresh_token", "refresh_token": rt0}), 200)
		rt1 := r.Body["refresh_token"].(string)
		r = e2e.Expect(t, "rotate on C", e2e.Do(t, "POST", nodes[2].URL+"/v1/token", "", map[string]any{"grant_type": "refresh_token", "refresh_token": rt1}), 200)
		access := r.Body["access_token"].(string)
		// rt0 is now a grandparent: presenting it on A is re-use.
		e2e.Expect(t, "re-use on A", e2e.Do(t, "POST", nodes[0].URL+"/v1/token", "", map[string]any{"grant_type": "refresh_token", "refresh_token": rt0}), 400)
		for i, n := range nodes {
			e2e.Expect(t, fmt.Sprintf("revoked session on node %d", i), e2e.Do(t, "GET", n.URL+"/v1/user", access, nil), 401)
		}
	})

	t.Run("logout on one is seen by all", func(t *testing.T) {
		r := e2e.Expect(t, "login", e2e.Do(t, "POST", nodes[2].URL+"/v1/token", "", map[string]any{"grant_type": "password", "email": "multi@example.com", "password": pw}), 200)
		access := r.Body["access_token"].(string)
		for i, n := range nodes {
			e2e.Expect(t, fmt.Sprintf("user on node %d", i), e2e.Do(t, "GET", n.URL+"/v1/user", access, nil), 200)
		}
		e2e.Expect(t, "logout on B", e2e.Do(t, "POST", nodes[1].URL+"/v1/logout", access, nil), 204)
		for i, n := range nodes {
			e2e.Expect(t, fmt.Sprintf("after logout on node %d", i), e2e.Do(t, "GET", n.URL+"/v1/user", access, nil), 401)
		}
	})

	t.Run("throttling counts across instances", func(t *testing.T) {
		// Five failures spread over three instances, then the sixth: the
		// account+address counter is shared, so the next try is held.
		for i := range 6 {
			e2e.Expect(t, "wrong password", e2e.Do(t, "POST", node()+"/v1/token", "", map[string]any{"grant_type": "password", "email": "multi@example.com", "password": fmt.Sprintf("wrong password %d", i)}), 400)
		}
		for i, n := range nodes {
			r := e2e.Expect(t, fmt.Sprintf("throttled on node %d", i), e2e.Do(t, "POST", n.URL+"/v1/token", "", map[string]any{"grant_type": "password", "email": "multi@example.com", "password": pw}), 429)
			if r.Header.Get("Retry-After") == "" {
				t.Error("no Retry-After")
			}
		}
		if out, code := e2e.RunCLI(t, dir, env, "", "user", "unlock", "multi@example.com"); code != 0 {
			t.Fatalf("unlock: %d %s", code, out)
		}
	})

	t.Run("key rotation reaches all without a failed request", func(t *testing.T) {
		// The throttle above slowed this address for a second.
		time.Sleep(1100 * time.Millisecond)
		r := e2e.Expect(t, "login", e2e.Do(t, "POST", node()+"/v1/token", "", map[string]any{"grant_type": "password", "email": "multi@example.com", "password": pw}), 200)
		rt := r.Body["refresh_token"].(string)
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
				r := e2e.Do(t, "POST", node()+"/v1/token", "", map[string]any{"grant_type": "refresh_token", "refresh_token": rt})
				if r.Status != 200 {
					failures.Add(1)
					t.Errorf("refresh: %d %v", r.Status, r.Body)
					return
				}
				rt = r.Body["refresh_token"].(string)
				tok := r.Body["access_token"].(string)
				kid, _ := decodeHeader(tok)
				kids.Store(kid, true)
				for i, n := range nodes {
					if r := e2e.Do(t, "GET", n.URL+"/v1/user", tok, nil); r.Status != 200 {
						failures.Add(1)
						t.Errorf("node %d refused a token of kid %s: %d %v", i, kid, r.Status, r.Body)
					}
				}
			}
		}()
		time.Sleep(time.Second)
		if out, code := e2e.RunCLI(t, dir, env, "", "keys", "rotate", "--force"); code != 0 || !strings.Contains(out, "rotated") {
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
		n.Stop(t)
	}
}
