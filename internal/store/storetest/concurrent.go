package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/latchauth/latch/internal/store"
)

// runConcurrent runs the races that the store's locking must settle. The
// goroutines take turns over stores, so that with two stores on one
// database the race is between two instances, not two goroutines of one.
func runConcurrent(t *testing.T, stores []store.Store) {
	t.Run("SignupRace", func(t *testing.T) { testSignupRace(t, stores) })
	t.Run("RotateRace", func(t *testing.T) { testRotateRace(t, stores) })
	t.Run("ThrottleRace", func(t *testing.T) { testThrottleRace(t, stores) })
	t.Run("SigningKeyRace", func(t *testing.T) { testSigningKeyRace(t, stores) })
}

// race runs fn(i) in n goroutines released at the same moment.
func race(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

// testSignupRace: twelve signups with one email create one account.
func testSignupRace(t *testing.T, stores []store.Store) {
	ctx := t.Context()
	const n = 12
	const email = "race@example.com"
	errs := make([]error, n)
	ids := make([]string, n)
	race(n, func(i int) {
		u := newUser(100 + i)
		u.Email = email
		ids[i] = u.ID
		errs[i] = stores[i%len(stores)].CreateUser(ctx, u)
	})
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Errorf("CreateUser %d and %d both succeeded", won, i)
		case err == nil:
			won = i
		case !errors.Is(err, store.ErrAlreadyExists):
			t.Errorf("CreateUser %d: got %v, want nil or ErrAlreadyExists", i, err)
		}
	}
	if won < 0 {
		t.Fatalf("no CreateUser succeeded")
	}
	got, err := stores[0].GetUserByEmail(ctx, email)
	if err != nil {
		t.Fatalf("GetUserByEmail: %v", err)
	}
	if got.ID != ids[won] {
		t.Errorf("user with the email is %s, want the winner %s", got.ID, ids[won])
	}
}

// errStale is what a rotation returns when another one got there first.
var errStale = errors.New("storetest: refresh token already rotated")

// testRotateRace: twenty refreshes presenting the same token; the row lock
// must let exactly one rotate it and show the others the new token.
func testRotateRace(t *testing.T, stores []store.Store) {
	ctx := t.Context()
	u := mustCreateUser(t, stores[0], newUser(200))
	sess := mustCreateSession(t, stores[0], newSession(u.ID, 1))
	presented := sess.RefreshHash

	const n = 20
	errs := make([]error, n)
	saw := make([][]byte, n) // the live hash a loser found
	race(n, func(i int) {
		_, errs[i] = stores[i%len(stores)].UpdateSession(ctx, sess.ID, func(s *store.Session) error {
			if !bytes.Equal(s.RefreshHash, presented) {
				saw[i] = bytes.Clone(s.RefreshHash)
				return errStale
			}
			return rotate(fmt.Sprintf("race/%d", i), at(time.Duration(i)*time.Second))(s)
		})
	})

	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Errorf("rotations %d and %d both won", won, i)
		case err == nil:
			won = i
		case !errors.Is(err, errStale):
			t.Errorf("UpdateSession %d: got %v, want nil or errStale", i, err)
		}
	}
	if won < 0 {
		t.Fatalf("no rotation won")
	}
	winner := hash(fmt.Sprintf("race/%d", won))
	for i, h := range saw {
		if i != won && !bytes.Equal(h, winner) {
			t.Errorf("loser %d saw hash %x, want the winner's %x", i, h, winner)
		}
	}
	got, err := stores[0].GetSession(ctx, sess.ID)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	if got.Generation != 1 {
		t.Errorf("Generation = %d, want 1", got.Generation)
	}
	diff(t, "RefreshHash", got.RefreshHash, winner)
	diff(t, "ParentHash", got.ParentHash, presented)
	for i := range n {
		_, err := stores[0].GetSessionByRefreshHash(ctx, hash(fmt.Sprintf("race/%d", i)))
		if i == won && err != nil {
			t.Errorf("GetSessionByRefreshHash(winner): %v", err)
		}
		if i != won && !isNotFound(err) {
			t.Errorf("GetSessionByRefreshHash(loser %d): got %v, want ErrNotFound", i, err)
		}
	}
}

// testThrottleRace: fifty failed logins at once on a key nobody has seen
// count fifty.
func testThrottleRace(t *testing.T, stores []store.Store) {
	ctx := t.Context()
	const n = 50
	key := "race:" + uuid.NewString()
	results := make([]int64, n)
	errs := make([]error, n)
	race(n, func(i int) {
		th, err := stores[i%len(stores)].UpdateThrottle(ctx, key, func(th *store.Throttle) error {
			th.Failures++
			th.LastFailureAt = at(time.Duration(i) * time.Second)
			return nil
		})
		results[i], errs[i] = th.Failures, err
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("UpdateThrottle %d: %v", i, err)
		}
	}
	// Each increment saw a different count: none was lost or doubled.
	seen := make(map[int64]bool)
	for _, f := range results {
		if f < 1 || f > n || seen[f] {
			t.Errorf("UpdateThrottle results %v: want each of 1..%d once", results, n)
			break
		}
		seen[f] = true
	}
	got, err := stores[0].GetThrottles(ctx, []string{key})
	if err != nil {
		t.Fatalf("GetThrottles: %v", err)
	}
	if len(got) != 1 || got[0].Failures != n {
		t.Errorf("GetThrottles = %+v, want one row with Failures %d", got, n)
	}
}

// testSigningKeyRace: two instances start on an empty database and each
// creates a current key unless one exists; exactly one key must result.
func testSigningKeyRace(t *testing.T, stores []store.Store) {
	ctx := t.Context()
	const n = 2
	errs := make([]error, n)
	race(n, func(i int) {
		errs[i] = stores[i%len(stores)].UpdateSigningKeys(ctx, func(keys []store.SigningKey) ([]store.SigningKey, error) {
			for _, k := range keys {
				if k.State == store.KeyCurrent {
					return nil, nil
				}
			}
			// Widen the window between the read and the write, where a
			// missing lock would let the other instance in.
			time.Sleep(50 * time.Millisecond)
			return []store.SigningKey{newKey(10+i, store.KeyCurrent)}, nil
		})
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("UpdateSigningKeys %d: %v", i, err)
		}
	}
	keys, err := stores[0].ListSigningKeys(ctx)
	if err != nil {
		t.Fatalf("ListSigningKeys: %v", err)
	}
	if len(keys) != 1 || keys[0].State != store.KeyCurrent {
		t.Errorf("ListSigningKeys = %+v, want exactly one current key", keys)
	}
}
