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
	must(t, "GetThrottles", err)
	sortThrottles(got)
	diff(t, "GetThrottles", got, []store.Throttle{stored(steps[1].set), stored(steps[3].set)})

	must(t, "DeleteThrottles", s.DeleteThrottles(ctx, []string{a, c}))
	must(t, "DeleteThrottles(nil)", s.DeleteThrottles(ctx, nil))
	got, err = s.GetThrottles(ctx, []string{a, b})
	must(t, "GetThrottles", err)
	diff(t, "GetThrottles after delete", got, []store.Throttle{stored(steps[3].set)})

	// After a delete the key starts again from zero.
	th, err := s.UpdateThrottle(ctx, a, func(th *store.Throttle) error {
		if th.Failures != 0 {
			t.Errorf("fn saw Failures = %d after delete, want 0", th.Failures)
		}
		th.Failures++
		return nil
	})
	must(t, "UpdateThrottle", err)
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
	must(t, "GetThrottles", err)
	diff(t, "throttles after failed updates", got, []store.Throttle{stored(existing)})
}

func sortThrottles(ths []store.Throttle) {
	slices.SortFunc(ths, func(a, b store.Throttle) int { return strings.Compare(a.Key, b.Key) })
}

func testUpdateThrottles(t *testing.T, s store.Store) {
	ctx := t.Context()
	const a, b, c = "account:user1@example.com", "ip:192.0.2.1", "account+ip:user1@example.com/192.0.2.1"
	old := store.Throttle{Key: a, Failures: 2, LastFailureAt: at(time.Second)}
	if _, err := s.UpdateThrottle(ctx, a, func(th *store.Throttle) error { *th = old; return nil }); err != nil {
		t.Fatalf("UpdateThrottle: %v", err)
	}

	// fn sees the rows in the order of keys, a missing one as a zero
	// Throttle with Key set; what it leaves zero is not stored.
	var seen []store.Throttle
	got, err := s.UpdateThrottles(ctx, []string{c, a, b}, func(rows []store.Throttle) error {
		seen = slices.Clone(rows)
		rows[0].Failures, rows[0].LastFailureAt = 1, at(2*time.Second)
		rows[1].Failures++
		rows[1].LastFailureAt, rows[1].BlockedUntil = at(2*time.Second), at(time.Minute)
		return nil
	})
	must(t, "UpdateThrottles", err)
	diff(t, "rows seen by fn", seen, []store.Throttle{{Key: c}, stored(old), {Key: b}})
	wantC := stored(store.Throttle{Key: c, Failures: 1, LastFailureAt: at(2 * time.Second)})
	wantA := stored(store.Throttle{Key: a, Failures: 3, LastFailureAt: at(2 * time.Second), BlockedUntil: at(time.Minute)})
	diff(t, "UpdateThrottles result", got, []store.Throttle{wantC, wantA, {Key: b}})
	saved, err := s.GetThrottles(ctx, []string{a, b, c})
	must(t, "GetThrottles", err)
	sortThrottles(saved)
	diff(t, "GetThrottles after UpdateThrottles", saved, []store.Throttle{wantC, wantA})

	// A block alone is not zero: the row is kept.
	blocked := store.Throttle{Key: b, BlockedUntil: at(time.Hour).Truncate(micro)}
	if _, err := s.UpdateThrottles(ctx, []string{b}, func(rows []store.Throttle) error {
		rows[0].BlockedUntil = at(time.Hour)
		return nil
	}); err != nil {
		t.Fatalf("UpdateThrottles(block only): %v", err)
	}
	saved, err = s.GetThrottles(ctx, []string{b})
	must(t, "GetThrottles", err)
	diff(t, "GetThrottles after a block alone", saved, []store.Throttle{blocked})

	// Rows fn leaves zero are deleted, the others saved, in one call.
	seen = nil
	got, err = s.UpdateThrottles(ctx, []string{a, b, c}, func(rows []store.Throttle) error {
		seen = slices.Clone(rows)
		rows[0] = store.Throttle{Key: a}
		rows[1] = store.Throttle{Key: b}
		rows[2].Failures++
		return nil
	})
	must(t, "UpdateThrottles(reset two)", err)
	diff(t, "rows seen by fn", seen, []store.Throttle{wantA, blocked, wantC})
	wantC.Failures++
	diff(t, "UpdateThrottles(reset two) result", got, []store.Throttle{{Key: a}, {Key: b}, wantC})
	saved, err = s.GetThrottles(ctx, []string{a, b, c})
	must(t, "GetThrottles", err)
	diff(t, "GetThrottles after resetting two", saved, []store.Throttle{wantC})

	// A reset key starts again from zero, like a new one.
	seen = nil
	if _, err := s.UpdateThrottles(ctx, []string{a}, func(rows []store.Throttle) error {
		seen = slices.Clone(rows)
		return nil
	}); err != nil {
		t.Fatalf("UpdateThrottles(reset key): %v", err)
	}
	diff(t, "row seen by fn after a reset", seen, []store.Throttle{{Key: a}})

	// No keys: fn sees no rows.
	ran := false
	got, err = s.UpdateThrottles(ctx, nil, func(rows []store.Throttle) error {
		ran = true
		if len(rows) != 0 {
			t.Errorf("UpdateThrottles(no keys): fn saw %d rows, want 0", len(rows))
		}
		return nil
	})
	if err != nil || len(got) != 0 || !ran {
		t.Errorf("UpdateThrottles(no keys) = %d rows, %v, fn ran %v; want 0, nil, true", len(got), err, ran)
	}
}

func testUpdateThrottlesErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	existing := store.Throttle{Key: "existing", Failures: 3, LastFailureAt: at(time.Second)}
	if _, err := s.UpdateThrottle(ctx, existing.Key, func(th *store.Throttle) error { *th = existing; return nil }); err != nil {
		t.Fatalf("UpdateThrottle: %v", err)
	}
	keys := []string{"new", existing.Key}
	tests := []struct {
		name string
		fn   func([]store.Throttle) error
		want error // nil: any error will do
	}{
		{"fn error", func(rows []store.Throttle) error {
			for i := range rows {
				rows[i].Failures = 99
				rows[i].BlockedUntil = at(time.Hour)
			}
			return errBoom
		}, errBoom},
		{"fn error after zeroing", func(rows []store.Throttle) error {
			rows[0].Failures = 1
			rows[1] = store.Throttle{Key: rows[1].Key}
			return errBoom
		}, errBoom},
		{"key changed", func(rows []store.Throttle) error {
			rows[0].Failures = 1
			rows[1].Failures = 4
			rows[1].Key = "other"
			return nil
		}, nil},
		{"keys swapped", func(rows []store.Throttle) error {
			rows[0], rows[1] = rows[1], rows[0]
			rows[0].Failures = 5
			return nil
		}, nil},
	}
	// A repeated key would let one row be seen, and saved, as two.
	called := false
	if _, err := s.UpdateThrottles(ctx, []string{existing.Key, "new", existing.Key}, func([]store.Throttle) error {
		called = true
		return nil
	}); err == nil || called {
		t.Errorf("UpdateThrottles with a repeated key: err %v, fn called %v; want an error before fn", err, called)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.UpdateThrottles(ctx, keys, tt.fn)
			wantFailure(t, "UpdateThrottles", err, tt.want)
			got, err := s.GetThrottles(ctx, []string{"new", existing.Key, "other"})
			must(t, "GetThrottles", err)
			diff(t, "throttles after a failed UpdateThrottles", got, []store.Throttle{stored(existing)})
		})
	}
}
