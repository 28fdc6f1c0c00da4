package ratelimit

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/clocktest"
	"github.com/latchauth/latch/internal/store/sqlite/sqlitetest"
)

func newThrottler(t *testing.T) (*Throttler, *clocktest.Clock) {
	t.Helper()
	db := sqlitetest.Open(t)
	c := clocktest.New(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC))
	return New(db, DefaultPolicy(), c.Now), c
}

func TestRuleDelay(t *testing.T) {
	r := Rule{Free: 3, Base: time.Second, Max: 10 * time.Second}
	for n, want := range map[int64]time.Duration{0: 0, 3: 0, 4: time.Second, 5: 2 * time.Second, 6: 4 * time.Second, 7: 8 * time.Second, 8: 10 * time.Second, 100: 10 * time.Second} {
		if got := r.delay(n); got != want {
			t.Errorf("delay(%d): got %v, want %v", n, got, want)
		}
	}
}

// attempt is what a login does: reserve, then settle a success.
func attempt(t *testing.T, th *Throttler, email, ip string, ok bool) time.Duration {
	t.Helper()
	ctx := context.Background()
	a := Attempt{Email: email, IP: ip}
	wait, err := th.Reserve(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if wait > 0 {
		return wait
	}
	if ok {
		if err := th.Succeed(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	return 0
}

// wantWait fails unless an attempt (as attempt makes it) is told to
// wait want; what says which attempt.
func wantWait(t *testing.T, th *Throttler, email, ip string, ok bool, want time.Duration, what string) {
	t.Helper()
	if w := attempt(t, th, email, ip, ok); w != want {
		t.Fatalf("%s: got wait %v, want %v", what, w, want)
	}
}

// One address guessing one account is slowed after 5 failures; the same
// account from another address is not (yet).
func TestPairSlowsFirst(t *testing.T) {
	th, _ := newThrottler(t)
	for i := range 5 {
		if w := attempt(t, th, "a@x.io", "1.1.1.1", false); w != 0 {
			t.Fatalf("failure %d throttled early: %v", i+1, w)
		}
	}
	wantWait(t, th, "a@x.io", "1.1.1.1", false, 0, "6th failure, not throttled before it is recorded")
	wantWait(t, th, "a@x.io", "1.1.1.1", true, time.Second, "after 6 failures")
	wantWait(t, th, "a@x.io", "2.2.2.2", true, 0, "the owner from another address")
}

// Many addresses against one account: the account key slows them all
// after 10 failures, and attempts during a delay do not extend it.
func TestAccountSlowsDistributedGuessing(t *testing.T) {
	th, c := newThrottler(t)
	for i := range 10 {
		attempt(t, th, "v@x.io", fmt.Sprintf("10.0.0.%d", i), false)
	}
	attempt(t, th, "v@x.io", "10.0.1.1", false) // 11th: 1 s
	for range 50 {
		wantWait(t, th, "v@x.io", "10.0.2.2", false, time.Second, "during the delay, which must not extend it")
	}
	c.Advance(time.Second)
	// The real user, after the delay, gets in.
	wantWait(t, th, "v@x.io", "192.0.2.7", true, 0, "owner after the delay")
	// Success forgot the account's failures.
	wantWait(t, th, "v@x.io", "10.0.3.3", false, 0, "after a success")
}

// An address spraying many accounts is slowed after 30 failures, and a
// right password on one account does not reset that.
func TestAddressSlowsSpraying(t *testing.T) {
	th, c := newThrottler(t)
	for i := range 31 {
		attempt(t, th, fmt.Sprintf("u%d@x.io", i), "3.3.3.3", false)
	}
	wantWait(t, th, "fresh@x.io", "3.3.3.3", true, time.Second, "sprayer")
	c.Advance(time.Second)
	attempt(t, th, "mine@x.io", "3.3.3.3", true)
	attempt(t, th, "u99@x.io", "3.3.3.3", false) // 32nd: 2 s
	wantWait(t, th, "u100@x.io", "3.3.3.3", false, 2*time.Second, "after a success elsewhere")
	// Forgotten an hour after the last failure.
	c.Advance(time.Hour + 3*time.Second)
	attempt(t, th, "u101@x.io", "3.3.3.3", false)
	wantWait(t, th, "u102@x.io", "3.3.3.3", false, 0, "after the window")
}

// NIST SP 800-63B §5.2.2: well under 100 consecutive failures a day on
// one account, however many addresses the guesser has.
func TestAccountFailuresPerDay(t *testing.T) {
	th, c := newThrottler(t)
	failures := 0
	for step := 0; step < 24*60*6; step++ { // every 10 s for a day
		if attempt(t, th, "target@x.io", fmt.Sprintf("10.1.%d.%d", step/250%250, step%250), false) == 0 {
			failures++
		}
		c.Advance(10 * time.Second)
	}
	if failures >= 100 {
		t.Fatalf("%d failures recorded in a day, want well under 100", failures)
	}
	t.Logf("%d failures recorded in 24 h against one account from many addresses", failures)
}

func TestUnlock(t *testing.T) {
	th, _ := newThrottler(t)
	for range 12 {
		attempt(t, th, "lock@x.io", "", false)
	}
	if w := attempt(t, th, "lock@x.io", "", true); w == 0 {
		t.Fatal("not throttled before unlock")
	}
	if err := th.Unlock(context.Background(), "lock@x.io"); err != nil {
		t.Fatal(err)
	}
	wantWait(t, th, "lock@x.io", "", true, 0, "after unlock")
}

// TestTake: a quota allows limit events, refuses the next ones with the
// time left until the window has passed since the last counted event,
// does not count refusals, and keeps keys apart.
func TestTake(t *testing.T) {
	th, c := newThrottler(t)
	ctx := context.Background()
	take := func(key string) time.Duration {
		t.Helper()
		wait, err := th.Take(ctx, key, 3, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return wait
	}
	for i := range 3 {
		if w := take("a"); w != 0 {
			t.Fatalf("event %d: got wait %v, want 0", i+1, w)
		}
		c.Advance(time.Minute)
	}
	// Last counted event at +2m; now +3m.
	if w := take("a"); w != 59*time.Minute {
		t.Fatalf("4th event: got wait %v, want 59m", w)
	}
	c.Advance(30 * time.Minute)
	if w := take("a"); w != 29*time.Minute {
		t.Fatalf("refusals must not extend the wait: got %v, want 29m", w)
	}
	if w := take("b"); w != 0 {
		t.Fatalf("another key: got wait %v, want 0", w)
	}
	c.Advance(29 * time.Minute)
	if w := take("a"); w != 0 {
		t.Fatalf("after the window: got wait %v, want 0", w)
	}
}
