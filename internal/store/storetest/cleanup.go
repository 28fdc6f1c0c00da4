package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/store"
)

// micro is the precision the stores keep; they compare cut-offs at it
// too.
const micro = time.Microsecond

// ended reports whether DeleteEndedSessions with these cut-offs must
// delete ss, a session as the store returned it.
func ended(ss store.Session, revokedBefore, expiredBefore, idleBefore time.Time) bool {
	return (!ss.RevokedAt.IsZero() && ss.RevokedAt.Before(revokedBefore.Truncate(micro))) ||
		ss.ExpiresAt.Before(expiredBefore.Truncate(micro)) ||
		ss.LastActiveAt.Before(idleBefore.Truncate(micro))
}

// active reports whether CountActiveSessions(now, idleAfter) must count
// ss.
func active(ss store.Session, now, idleAfter time.Time) bool {
	return ss.RevokedAt.IsZero() && ss.ExpiresAt.After(now.Truncate(micro)) && ss.LastActiveAt.After(idleAfter.Truncate(micro))
}

// stale reports whether DeleteThrottlesBefore(t) must delete th.
func stale(th store.Throttle, t time.Time) bool {
	t = t.Truncate(micro)
	return !t.IsZero() &&
		(th.LastFailureAt.IsZero() || th.LastFailureAt.Before(t)) &&
		(th.BlockedUntil.IsZero() || th.BlockedUntil.Before(t))
}

// sessionCase shapes one session of a clean-up test.
type sessionCase struct {
	name  string
	shape func(*store.Session) // nil: leave the live base session as it is
	want  bool                 // deleted, or counted
}

// createShaped creates, for each case, a session of one of users that is
// live at now (created two hours before, active one hour before, expiring
// a day after), has rotated its refresh token once, and then has the
// case's shape. It returns the sessions as stored and the hashes each
// issued.
func createShaped(t *testing.T, s store.Store, users []store.User, now time.Time, cases []sessionCase) ([]store.Session, [][][]byte) {
	t.Helper()
	var (
		sessions []store.Session
		hashes   [][][]byte
	)
	for i, c := range cases {
		ss := mustCreateSession(t, s, newSession(users[i%len(users)].ID, i))
		next := fmt.Sprintf("%s/1", ss.ID)
		got, err := s.UpdateSession(t.Context(), ss.ID, func(x *store.Session) error {
			if err := rotate(next, now.Add(-90*time.Minute))(x); err != nil {
				return err
			}
			x.CreatedAt = now.Add(-2 * time.Hour)
			x.LastActiveAt = now.Add(-time.Hour)
			x.ExpiresAt = now.Add(24 * time.Hour)
			if c.shape != nil {
				c.shape(x)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: UpdateSession: %v", c.name, err)
		}
		sessions = append(sessions, got)
		hashes = append(hashes, [][]byte{ss.RefreshHash, hash(next)})
	}
	return sessions, hashes
}

func testDeleteEndedSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	users := []store.User{mustCreateUser(t, s, newUser(1)), mustCreateUser(t, s, newUser(2))}
	now := at(100 * time.Hour)
	revokedBefore, expiredBefore, idleBefore := now.Add(-24*time.Hour), now, now.Add(-48*time.Hour)
	cases := []sessionCase{
		{"live", nil, false},
		{"revoked a microsecond before the cut-off", func(x *store.Session) { x.RevokedAt = revokedBefore.Add(-micro) }, true},
		{"revoked at the cut-off", func(x *store.Session) { x.RevokedAt = revokedBefore }, false},
		{"revoked recently", func(x *store.Session) { x.RevokedAt = now.Add(-time.Hour) }, false},
		{"expired a microsecond before the cut-off", func(x *store.Session) { x.ExpiresAt = expiredBefore.Add(-micro) }, true},
		{"expiring at the cut-off", func(x *store.Session) { x.ExpiresAt = expiredBefore }, false},
		{"idle since a microsecond before the cut-off", func(x *store.Session) { x.LastActiveAt = idleBefore.Add(-micro) }, true},
		{"idle since the cut-off", func(x *store.Session) { x.LastActiveAt = idleBefore }, false},
		{"ended every way", func(x *store.Session) {
			x.RevokedAt = at(-time.Hour)
			x.ExpiresAt = at(-time.Hour)
			x.LastActiveAt = at(-2 * time.Hour)
		}, true},
		{"live, second user", nil, false},
	}
	sessions, hashes := createShaped(t, s, users, now, cases)
	var want int64
	for i, c := range cases {
		if ended(sessions[i], revokedBefore, expiredBefore, idleBefore) != c.want {
			t.Fatalf("%s: the case does not test what it says", c.name)
		}
		if c.want {
			want++
		}
	}

	n, err := s.DeleteEndedSessions(ctx, time.Time{}, time.Time{}, time.Time{})
	if err != nil || n != 0 {
		t.Errorf("DeleteEndedSessions(zero cut-offs) = %d, %v; want 0, nil", n, err)
	}
	n, err = s.DeleteEndedSessions(ctx, revokedBefore, expiredBefore, idleBefore)
	must(t, "DeleteEndedSessions", err)
	if n != want {
		t.Errorf("DeleteEndedSessions = %d, want %d", n, want)
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := s.GetSession(ctx, sessions[i].ID)
			if c.want {
				wantErr(t, "GetSession(deleted)", err, store.ErrNotFound)
			} else if err != nil {
				t.Errorf("GetSession(kept): %v", err)
			} else {
				diff(t, "kept session", got, sessions[i])
			}
			// The cascade took the deleted session's whole token history.
			for j, h := range hashes[i] {
				got, err := s.GetSessionByRefreshHash(ctx, h)
				switch {
				case c.want:
					if !isNotFound(err) {
						t.Errorf("GetSessionByRefreshHash(hash %d of a deleted session): got %v, want ErrNotFound", j, err)
					}
				case err != nil:
					t.Errorf("GetSessionByRefreshHash(hash %d of a kept session): %v", j, err)
				case got.ID != sessions[i].ID:
					t.Errorf("hash %d finds session %s, want %s", j, got.ID, sessions[i].ID)
				}
			}
		})
	}
	for _, u := range users {
		if _, err := s.GetUser(ctx, u.ID); err != nil {
			t.Errorf("GetUser after DeleteEndedSessions: %v", err)
		}
	}
	n, err = s.DeleteEndedSessions(ctx, revokedBefore, expiredBefore, idleBefore)
	if err != nil || n != 0 {
		t.Errorf("DeleteEndedSessions again = %d, %v; want 0, nil", n, err)
	}
}

func testCountActiveSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := at(100 * time.Hour)
	idleAfter := now.Add(-48 * time.Hour)
	if n, err := s.CountActiveSessions(ctx, now, idleAfter); err != nil || n != 0 {
		t.Errorf("CountActiveSessions(empty store) = %d, %v; want 0, nil", n, err)
	}
	users := []store.User{mustCreateUser(t, s, newUser(1)), mustCreateUser(t, s, newUser(2))}
	cases := []sessionCase{
		{"live", nil, true},
		{"revoked", func(x *store.Session) { x.RevokedAt = now.Add(-time.Minute) }, false},
		{"expiring at now", func(x *store.Session) { x.ExpiresAt = now }, false},
		{"expiring a microsecond after now", func(x *store.Session) { x.ExpiresAt = now.Add(micro) }, true},
		{"active last at the idle cut-off", func(x *store.Session) { x.LastActiveAt = idleAfter }, false},
		{"active last a microsecond after it", func(x *store.Session) { x.LastActiveAt = idleAfter.Add(micro) }, true},
		{"expired long ago", func(x *store.Session) { x.ExpiresAt = at(-time.Hour) }, false},
		{"live, second user", nil, true},
		{"live, first user", nil, true},
	}
	sessions, _ := createShaped(t, s, users, now, cases)
	var want, second int64
	for i, c := range cases {
		if active(sessions[i], now, idleAfter) != c.want {
			t.Fatalf("%s: the case does not test what it says", c.name)
		}
		if c.want {
			want++
			if i%len(users) == 1 {
				second++
			}
		}
	}
	if n, err := s.CountActiveSessions(ctx, now, idleAfter); err != nil || n != want {
		t.Errorf("CountActiveSessions = %d, %v; want %d, nil", n, err, want)
	}
	must(t, "DeleteUser", s.DeleteUser(ctx, users[1].ID))
	if n, err := s.CountActiveSessions(ctx, now, idleAfter); err != nil || n != want-second {
		t.Errorf("CountActiveSessions after DeleteUser = %d, %v; want %d, nil", n, err, want-second)
	}
}

func testDeleteThrottlesBefore(t *testing.T, s store.Store) {
	ctx := t.Context()
	cut := at(24 * time.Hour)
	long := at(-time.Hour)
	tests := []struct {
		th   store.Throttle
		gone bool
	}{
		{store.Throttle{Key: "failed a microsecond before", Failures: 1, LastFailureAt: cut.Add(-micro)}, true},
		{store.Throttle{Key: "failed at the cut-off", Failures: 2, LastFailureAt: cut}, false},
		{store.Throttle{Key: "failed after", Failures: 3, LastFailureAt: cut.Add(time.Hour)}, false},
		{store.Throttle{Key: "blocked past the cut-off", Failures: 9, LastFailureAt: long, BlockedUntil: cut.Add(time.Hour)}, false},
		{store.Throttle{Key: "blocked until the cut-off", Failures: 9, LastFailureAt: long, BlockedUntil: cut}, false},
		{store.Throttle{Key: "block ended a microsecond before", Failures: 9, LastFailureAt: long, BlockedUntil: cut.Add(-micro)}, true},
		{store.Throttle{Key: "no failure time", Failures: 1}, true},
		{store.Throttle{Key: "no failure time, blocked past the cut-off", Failures: 1, BlockedUntil: cut.Add(time.Hour)}, false},
	}
	var (
		keys       []string
		kept       []store.Throttle
		want       int64
		everything []store.Throttle
	)
	for _, tt := range tests {
		th, err := s.UpdateThrottle(ctx, tt.th.Key, func(th *store.Throttle) error { *th = tt.th; return nil })
		if err != nil {
			t.Fatalf("UpdateThrottle(%s): %v", tt.th.Key, err)
		}
		if stale(th, cut) != tt.gone {
			t.Fatalf("%s: the case does not test what it says", tt.th.Key)
		}
		keys = append(keys, th.Key)
		everything = append(everything, th)
		if tt.gone {
			want++
		} else {
			kept = append(kept, th)
		}
	}
	sortThrottles(kept)
	sortThrottles(everything)

	wantDeleted(t, "DeleteThrottlesBefore(zero time)", s.DeleteThrottlesBefore, time.Time{}, 0)
	got, err := s.GetThrottles(ctx, keys)
	must(t, "GetThrottles", err)
	sortThrottles(got)
	diff(t, "throttles after DeleteThrottlesBefore(zero time)", got, everything)

	wantDeleted(t, "DeleteThrottlesBefore", s.DeleteThrottlesBefore, cut, want)
	got, err = s.GetThrottles(ctx, keys)
	must(t, "GetThrottles", err)
	sortThrottles(got)
	diff(t, "throttles after DeleteThrottlesBefore", got, kept)
	wantDeleted(t, "DeleteThrottlesBefore again", s.DeleteThrottlesBefore, cut, 0)
}
