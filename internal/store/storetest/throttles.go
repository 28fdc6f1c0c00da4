package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/store"
)

func testThrottles(t *testing.T, s store.Store) {
	ctx := t.Context()
	const a, b, c = "account:user1@example.com", "ip:192.0.2.1", "account:nobody@example.com"
	for _, keys := range [][]string{nil, {}, {a, b}} {
		got, err := s.GetThrottles(ctx, keys)
		if err != nil || len(got) != 0 {
			t.Fatalf("GetThrottles(%q) on an empty store = %d rows, %v; want 0, nil", keys, len(got), err)
		}
	}

	steps := []struct {
		key  string
		seen store.Throttle // what fn must see
		set  store.Throttle // what fn saves
	}{
		{a, store.Throttle{Key: a}, store.Throttle{Key: a, Failures: 1, LastFailureAt: at(time.Second)}},
		{a, store.Throttle{Key: a, Failures: 1, LastFailureAt: at(time.Second)},
			store.Throttle{Key: a, Failures: 2, LastFailureAt: at(2 * time.Second), BlockedUntil: at(time.Minute)}},
		{b, store.Throttle{Key: b}, store.Throttle{Key: b, Failures: 7, LastFailureAt: at(3 * time.Second), BlockedUntil: at(time.Hour)}},
		// Unblocking brings BlockedUntil back to zero.
		{b, store.Throttle{Key: b, Failures: 7, LastFailureAt: at(3 * time.Second), BlockedUntil: at(time.Hour)},
			store.Throttle{Key: b, Failures: 7, LastFailureAt: at(3 * time.Second)}},
	}
	for i, st := range steps {
		var seen store.Throttle
		got, err := s.UpdateThrottle(ctx, st.key, func(th *store.Throttle) error {
			seen = *th
			*th = st.set
			return nil
		})
		if err != nil {
			t.Fatalf("step %d: UpdateThrottle: %v", i, err)
		}
		diff(t, fmt.Sprintf("step %d: throttle seen by fn", i), seen, stored(st.seen))
		diff(t, fmt.Sprintf("step %d: UpdateThrottle result", i), got, stored(st.set))
	}

	got, err := s.GetThrottles(ctx, []string{a, b, c})
	if err != nil {
		t.Fatalf("GetThrottles: %v", err)
	}
	sortThrottles(got)
	diff(t, "GetThrottles", got, []store.Throttle{stored(steps[1].set), stored(steps[3].set)})

	if err := s.DeleteThrottles(ctx, []string{a, c}); err != nil {
		t.Fatalf("DeleteThrottles: %v", err)
	}
	if err := s.DeleteThrottles(ctx, nil); err != nil {
		t.Fatalf("DeleteThrottles(nil): %v", err)
	}
	got, err = s.GetThrottles(ctx, []string{a, b})
	if err != nil {
		t.Fatalf("GetThrottles: %v", err)
	}
	diff(t, "GetThrottles after delete", got, []store.Throttle{stored(steps[3].set)})

	// After a delete the key starts again from zero.
	th, err := s.UpdateThrottle(ctx, a, func(th *store.Throttle) error {
		if th.Failures != 0 {
			t.Errorf("fn saw Failures = %d after delete, want 0", th.Failures)
		}
		th.Failures++
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateThrottle: %v", err)
	}
	diff(t, "throttle after delete and update", th, store.Throttle{Key: a, Failures: 1})

	_, err = s.UpdateThrottle(ctx, a, func(th *store.Throttle) error { th.Key = c; return nil })
	if err == nil {
		t.Errorf("UpdateThrottle changing the key: got nil error, want one")
	}
}

func testThrottleFuncError(t *testing.T, s store.Store) {
	ctx := t.Context()
	existing := store.Throttle{Key: "existing", Failures: 3, LastFailureAt: at(time.Second)}
	if _, err := s.UpdateThrottle(ctx, existing.Key, func(th *store.Throttle) error { *th = existing; return nil }); err != nil {
		t.Fatalf("UpdateThrottle: %v", err)
	}
	for _, key := range []string{"new", existing.Key} {
		_, err := s.UpdateThrottle(ctx, key, func(th *store.Throttle) error {
			th.Failures = 99
			th.BlockedUntil = at(time.Hour)
			return errBoom
		})
		wantErr(t, "UpdateThrottle("+key+")", err, errBoom)
	}
	got, err := s.GetThrottles(ctx, []string{"new", existing.Key})
	if err != nil {
		t.Fatalf("GetThrottles: %v", err)
	}
	diff(t, "throttles after failed updates", got, []store.Throttle{stored(existing)})
}

func sortThrottles(ths []store.Throttle) {
	slices.SortFunc(ths, func(a, b store.Throttle) int { return strings.Compare(a.Key, b.Key) })
}
