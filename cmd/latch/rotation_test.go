package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/e2e"
	"github.com/latchauth/latch/verify"
)

// Keys rotate under load with zero failed verifications, at latch and at a
// verify instance that fetched the JWKS before the first rotation: the
// first rotation promotes a key the verifier already holds (it was
// "next"); the second promotes one it has never seen, which it fetches on
// the unknown kid. Tokens issued before, during and after both rotations
// stay valid for their whole lifetime at both.
func TestKeyRotationUnderLoad(t *testing.T) {
	dir := t.TempDir()
	addr := e2e.FreeAddr(t)
	url := "http://" + addr
	p := e2e.Start(t, dir, "LATCH_ADDR="+addr, "LATCH_PUBLIC_URL="+url, "LATCH_KEY_RELOAD_INTERVAL=1s", "LATCH_RATE_LIMIT=off")

	const pw = "a long and lovely passphrase"
	r := e2e.Expect(t, "signup", e2e.Do(t, "POST", url+"/v1/signup", "", map[string]any{"email": "rot@example.com", "password": pw}), 201)
	firstToken := r.Body["access_token"].(string)

	ctx := context.Background()
	v, err := verify.New(ctx, url, verify.Options{Audience: []string{url}})
	if err != nil {
		t.Fatal(err)
	}

	var (
		issued    sync.Map // access token → true
		ok, fails atomic.Int64
		kids      sync.Map
	)
	check := func(tok string) {
		if r := e2e.Do(t, "GET", url+"/v1/user", tok, nil); r.Status != 200 {
			fails.Add(1)
			t.Errorf("latch refused a token: %d %v", r.Status, r.Body)
			return
		}
		if _, err := v.Verify(ctx, tok); err != nil {
			fails.Add(1)
			t.Errorf("verify refused a token: %v", err)
			return
		}
		ok.Add(1)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			r := e2e.Expect(t, "login", e2e.Do(t, "POST", url+"/v1/token", "", map[string]any{"grant_type": "password", "email": "rot@example.com", "password": pw}), 200)
			rt := r.Body["refresh_token"].(string)
			for {
				select {
				case <-stop:
					return
				default:
				}
				r := e2e.Do(t, "POST", url+"/v1/token", "", map[string]any{"grant_type": "refresh_token", "refresh_token": rt})
				if r.Status != 200 {
					fails.Add(1)
					t.Errorf("worker %d: refresh: %d %v", w, r.Status, r.Body)
					return
				}
				rt = r.Body["refresh_token"].(string)
				tok := r.Body["access_token"].(string)
				issued.Store(tok, true)
				hdr, _ := decodeHeader(tok)
				kids.Store(hdr, true)
				check(tok)
			}
		})
	}

	rotate := func() {
		out, code := e2e.RunCLI(t, dir, nil, "", "keys", "rotate", "--force")
		if code != 0 {
			t.Fatalf("keys rotate: exit %d: %s", code, out)
		}
	}
	time.Sleep(1500 * time.Millisecond)
	rotate() // promotes the key the verifier already has
	time.Sleep(2500 * time.Millisecond)
	rotate() // promotes a key the verifier has never seen
	time.Sleep(2500 * time.Millisecond)
	close(stop)
	wg.Wait()

	// Every token ever issued in the run still verifies at both.
	issued.Range(func(k, _ any) bool {
		check(k.(string))
		return true
	})
	check(firstToken)
	nkids := 0
	kids.Range(func(_, _ any) bool { nkids++; return true })
	t.Logf("%d successful verifications at latch and at verify, %d failures, tokens signed by %d keys", ok.Load(), fails.Load(), nkids)
	if fails.Load() != 0 {
		t.Fatalf("%d failed verifications, want 0", fails.Load())
	}
	if nkids != 3 {
		t.Fatalf("tokens were signed by %d keys, want 3 (before, between and after the rotations)", nkids)
	}
	p.Stop(t)
}

// decodeHeader returns the kid of a compact JWS without verifying it.
func decodeHeader(tok string) (string, error) {
	head, _, _ := strings.Cut(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return "", err
	}
	var m struct {
		Kid string `json:"kid"`
	}
	err = json.Unmarshal(b, &m)
	return m.Kid, err
}
