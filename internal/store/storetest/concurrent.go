package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
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
	t.Run("SignupWithSessionRace", func(t *testing.T) { testSignupWithSessionRace(t, stores) })
	t.Run("RotateRace", func(t *testing.T) { testRotateRace(t, stores) })
	t.Run("ThrottleRace", func(t *testing.T) { testThrottleRace(t, stores) })
	t.Run("ThrottlesRace", func(t *testing.T) { testThrottlesRace(t, stores) })
	t.Run("EpochRace", func(t *testing.T) { testEpochRace(t, stores) })
	t.Run("SigningKeyRace", func(t *testing.T) { testSigningKeyRace(t, stores) })
	t.Run("ClaimMailRace", func(t *testing.T) { testClaimMailRace(t, stores) })
	t.Run("UseTokenRace", func(t *testing.T) { testUseTokenRace(t, stores) })
	t.Run("TokenAttemptsRace", func(t *testing.T) { testTokenAttemptsRace(t, stores) })
	t.Run("EmailChangeRace", func(t *testing.T) { testEmailChangeRace(t, stores) })
	t.Run("UseTokenDeleteUserRace", func(t *testing.T) { testUseTokenDeleteUserRace(t, stores) })
	t.Run("CleanupRace", func(t *testing.T) { testCleanupRace(t, stores) })
	t.Run("DetachRace", func(t *testing.T) { testDetachRace(t, stores) })
	t.Run("AttachRace", func(t *testing.T) { testAttachRace(t, stores) })
	t.Run("TOTPReplayRace", func(t *testing.T) { testTOTPReplayRace(t, stores) })
	t.Run("RecoveryCodeRace", func(t *testing.T) { testRecoveryCodeRace(t, stores) })
	t.Run("LeaveOneFactorRace", func(t *testing.T) { testLeaveOneFactorRace(t, stores) })
	t.Run("VerifyFactorRace", func(t *testing.T) { testVerifyFactorRace(t, stores) })
	t.Run("PendingCleanupRace", func(t *testing.T) { testPendingCleanupRace(t, stores) })
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

// noErrors fails for every error of errs, the results of a race, naming
// what and the contender's index.
func noErrors(t *testing.T, what string, errs []error) {
	t.Helper()
	for i, err := range errs {
		if err != nil {
			t.Errorf("%s %d: %v", what, i, err)
		}
	}
}

// eachOnce fails unless results, the counts n contenders of a race saw
// after their increment, hold each of 1..n once: no increment was lost or
// doubled. what names the results in the failure.
func eachOnce[N int | int64](t *testing.T, what string, results []N, n int) {
	t.Helper()
	seen := make(map[N]bool)
	for _, r := range results {
		if r < 1 || r > N(n) || seen[r] {
			t.Errorf("%s %v: want each of 1..%d once", what, results, n)
			return
		}
		seen[r] = true
	}
}

// oneWinner checks the errors of a race that exactly one may win: one is
// nil and every other one is lose. It returns the winner's index, or -1
// (having failed the test) when nobody won. what names the contenders in
// failures.
func oneWinner(t *testing.T, what string, errs []error, lose error) int {
	t.Helper()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Errorf("%s %d and %d both succeeded", what, won, i)
		case err == nil:
			won = i
		case !errors.Is(err, lose):
			t.Errorf("%s %d: got %v, want nil or %v", what, i, err, lose)
		}
	}
	if won < 0 {
		t.Errorf("no %s succeeded", what)
	}
	return won
}

// raceToWin runs call for n contenders at once, contender i on
// stores[i%len(stores)], in a race that exactly one may win, and checks
// it as oneWinner does: it returns the winner's index, or -1.
func raceToWin(t *testing.T, stores []store.Store, n int, what string, lose error, call func(i int, st store.Store) error) int {
	t.Helper()
	errs := make([]error, n)
	race(n, func(i int) { errs[i] = call(i, stores[i%len(stores)]) })
	return oneWinner(t, what, errs, lose)
}

// signupRace runs n signups at once of users newUser(base+i) with one
// email, each through signup, which returns the session it created with
// the user (zero if none). It returns each signup's error, user id and
// session.
func signupRace(n, base int, email string, signup func(i int, u store.User) (store.Session, error)) ([]error, []string, []store.Session) {
	errs := make([]error, n)
	ids := make([]string, n)
	sessions := make([]store.Session, n)
	race(n, func(i int) {
		u := newUser(base + i)
		u.Email = email
		ids[i] = u.ID
		sessions[i], errs[i] = signup(i, u)
	})
	return errs, ids, sessions
}

// testSignupRace: twelve signups with one email create one account, half
// of them with CreateUser and half signing in at once with
// CreateUserWithSession; a loser of the latter leaves no session behind.
func testSignupRace(t *testing.T, stores []store.Store) {
	ctx := t.Context()
	const n = 12
	const email = "race@example.com"
	errs, ids, sessions := signupRace(n, 100, email, func(i int, u store.User) (store.Session, error) {
		db := stores[i%len(stores)]
		if i%4 < 2 {
			return store.Session{}, db.CreateUser(ctx, u)
		}
		ss := newSession(u.ID, i)
		return ss, db.CreateUserWithSession(ctx, u, ss)
	})
	won := oneWinner(t, "signup", errs, store.ErrAlreadyExists)
	if won < 0 {
		return
	}
	got, err := stores[0].GetUserByEmail(ctx, email)
	must(t, "GetUserByEmail", err)
	if got.ID != ids[won] {
		t.Errorf("user with the email is %s, want the winner %s", got.ID, ids[won])
	}
	checkSignupSessions(t, stores[0], sessions, won)
}

// testSignupWithSessionRace: twelve signups with one email, each signing
// in at once: exactly one succeeds and exactly one session exists, the
// winner's.
func testSignupWithSessionRace(t *testing.T, stores []store.Store) {
	ctx := t.Context()
	const n = 12
	const email = "race-session@example.com"
	errs, ids, sessions := signupRace(n, 200, email, func(i int, u store.User) (store.Session, error) {
		ss := newSession(u.ID, i)
		return ss, stores[i%len(stores)].CreateUserWithSession(ctx, u, ss)
	})
	won := oneWinner(t, "CreateUserWithSession", errs, store.ErrAlreadyExists)
	if won < 0 {
		return
	}
	lost := 0
	for _, err := range errs {
		if errors.Is(err, store.ErrAlreadyExists) {
			lost++
		}
	}
	if lost != n-1 {
		t.Errorf("%d CreateUserWithSession got ErrAlreadyExists, want %d", lost, n-1)
	}
	got, err := stores[0].GetUserByEmail(ctx, email)
	must(t, "GetUserByEmail", err)
	if got.ID != ids[won] {
		t.Errorf("user with the email is %s, want the winner %s", got.ID, ids[won])
	}
	checkSignupSessions(t, stores[0], sessions, won)
	list, err := stores[0].ListSessions(ctx, ids[won])
	if err != nil || len(list) != 1 || list[0].ID != sessions[won].ID {
		t.Errorf("ListSessions(winner) = %d sessions, %v; want 1 (the winner's), nil", len(list), err)
	}
}

// checkSignupSessions checks, after a signup race, that of the sessions
// (zero where the goroutine made none) only the winner's exists, and
// that its refresh token finds it.
func checkSignupSessions(t *testing.T, s store.Store, sessions []store.Session, won int) {
	t.Helper()
	ctx := t.Context()
	live := 0
	for i, ss := range sessions {
		if ss.ID == "" {
			continue
		}
		_, err := s.GetSession(ctx, ss.ID)
		_, herr := s.GetSessionByRefreshHash(ctx, ss.RefreshHash)
		switch {
		case i == won:
			if err != nil || herr != nil {
				t.Errorf("winner's session %d: GetSession %v, GetSessionByRefreshHash %v; want both found", i, err, herr)
			}
			live++
		case !isNotFound(err) || !isNotFound(herr):
			t.Errorf("loser's session %d: GetSession %v, GetSessionByRefreshHash %v; want ErrNotFound from both", i, err, herr)
			live++
		}
	}
	want := 1
	if sessions[won].ID == "" {
		want = 0 // the winner signed up without a session
	}
	if live != want {
		t.Errorf("%d sessions exist after the race, want %d", live, want)
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
	saw := make([][]byte, n) // the live hash a loser found
	won := raceToWin(t, stores, n, "rotation", errStale, func(i int, st store.Store) error {
		_, err := st.UpdateSession(ctx, sess.ID, func(s *store.Session) error {
			if !bytes.Equal(s.RefreshHash, presented) {
				saw[i] = bytes.Clone(s.RefreshHash)
				return errStale
			}
			return rotate(fmt.Sprintf("race/%d", i), at(time.Duration(i)*time.Second))(s)
		})
		return err
	})
	if won < 0 {
		return
	}
	winner := hash(fmt.Sprintf("race/%d", won))
	for i, h := range saw {
		if i != won && !bytes.Equal(h, winner) {
			t.Errorf("loser %d saw hash %x, want the winner's %x", i, h, winner)
		}
	}
	got, err := stores[0].GetSession(ctx, sess.ID)
	must(t, "GetSession", err)
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
	noErrors(t, "UpdateThrottle", errs)
	eachOnce(t, "UpdateThrottle results", results, n)
	got, err := stores[0].GetThrottles(ctx, []string{key})
	must(t, "GetThrottles", err)
	if len(got) != 1 || got[0].Failures != n {
		t.Errorf("GetThrottles = %+v, want one row with Failures %d", got, n)
	}
}

// errThrottled is what a login refused by its throttles returns.
var errThrottled = errors.New("storetest: throttled")

// testThrottlesRace: fifty failed logins at once each check three keys
// (an account, an address, both) and count a failure on all three unless
// one has reached the limit. UpdateThrottles must make the check and the
// increment one step: exactly limit logins get through, and every row
// ends at limit. The goroutines list the keys in different orders, so
// that a backend locking rows in the order given would deadlock.
func testThrottlesRace(t *testing.T, stores []store.Store) {
	ctx := t.Context()
	const n, limit = 50, 5
	id := uuid.NewString()
	keys := []string{"race-account:" + id, "race-ip:" + id, "race-both:" + id}
	results := make([]int64, n)
	errs := make([]error, n)
	race(n, func(i int) {
		order := append(slices.Clone(keys[i%3:]), keys[:i%3]...)
		if i%2 == 1 {
			slices.Reverse(order)
		}
		got, err := stores[i%len(stores)].UpdateThrottles(ctx, order, func(rows []store.Throttle) error {
			for _, th := range rows {
				if th.Failures >= limit {
					return errThrottled
				}
			}
			for j := range rows {
				rows[j].Failures++
				rows[j].LastFailureAt = at(time.Duration(i) * time.Second)
			}
			return nil
		})
		errs[i] = err
		if err == nil {
			results[i] = got[0].Failures
		}
	})
	passed := 0
	seen := make(map[int64]bool)
	for i, err := range errs {
		switch {
		case err == nil:
			passed++
			if f := results[i]; f < 1 || f > limit || seen[f] {
				t.Errorf("UpdateThrottles %d saved Failures %d; want each of 1..%d once", i, f, limit)
			}
			seen[results[i]] = true
		case !errors.Is(err, errThrottled):
			t.Errorf("UpdateThrottles %d: got %v, want nil or errThrottled", i, err)
		}
	}
	if passed != limit {
		t.Errorf("%d logins got through, want %d", passed, limit)
	}
	got, err := stores[0].GetThrottles(ctx, keys)
	must(t, "GetThrottles", err)
	if len(got) != len(keys) {
		t.Errorf("GetThrottles = %d rows, want %d", len(got), len(keys))
	}
	for _, th := range got {
		if th.Failures != limit {
			t.Errorf("throttle %s Failures = %d, want %d", th.Key, th.Failures, limit)
		}
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
	noErrors(t, "UpdateSigningKeys", errs)
	keys, err := stores[0].ListSigningKeys(ctx)
	must(t, "ListSigningKeys", err)
	if len(keys) != 1 || keys[0].State != store.KeyCurrent {
		t.Errorf("ListSigningKeys = %+v, want exactly one current key", keys)
	}
}

// testCleanupRace: clean-ups on every store at once, while refreshes,
// failed logins and one-time codes touch the rows they look at. Every
// ended row must go exactly once, no live one may go, and no caller may
// see an error: a failed login on a key being cleaned up either finds the
// old row or starts a new one.
//
// The rows it ends lie long before t0 and its cut-offs before t0 too, so
// that the rows of the races before it, on the same stores, are left
// alone.
func testCleanupRace(t *testing.T, stores []store.Store) {
	r := newCleanupRace(t, stores[0])
	errs, deleted := r.run(t, stores)
	var sessionsGone, throttlesGone, eventsGone, tokensGone int64
	for i, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: %v", i, err)
		}
		switch i % kinds {
		case 0:
			sessionsGone += deleted[i]
		case 1:
			throttlesGone += deleted[i]
		case 2:
			eventsGone += deleted[i]
		case 4:
			tokensGone += deleted[i]
		}
	}
	s := stores[0]
	t.Run("Sessions", func(t *testing.T) { r.checkSessions(t, s, sessionsGone) })
	t.Run("Throttles", func(t *testing.T) { r.checkThrottles(t, s, throttlesGone) })
	t.Run("Audit", func(t *testing.T) { r.checkAudit(t, s, eventsGone) })
	t.Run("Tokens", func(t *testing.T) { r.checkTokens(t, s, tokensGone) })
}

// The rows of testCleanupRace and its contenders.
const (
	oldFailures = 3  // of each throttle row before the race
	updaters    = 4  // contenders of each kind
	oldEvents   = 40 // audit events the clean-up deletes
	oldTokens   = 30 // one-time tokens the clean-up deletes
	kinds       = 5  // of contender, by i%kinds
)

// cleanupRace is the rows testCleanupRace writes before its race.
type cleanupRace struct {
	u              store.User
	long, cut, now time.Time
	endedIDs       []string // sessions the clean-up deletes
	liveIDs        []string // sessions the updaters refresh
	keys           []string // throttles, stale before the updaters fail on them
	recent         store.AuditEvent
	tokenUsers     []store.User
	liveTokens     []store.OneTimeToken // one per user of tokenUsers
}

// newCleanupRace writes the rows of testCleanupRace to s.
func newCleanupRace(t *testing.T, s store.Store) *cleanupRace {
	t.Helper()
	r := &cleanupRace{long: at(-1000 * time.Hour), cut: at(-500 * time.Hour), now: at(time.Minute)}
	r.u = mustCreateUser(t, s, newUser(300))
	for i := range 30 {
		ss := newSession(r.u.ID, i)
		switch i % 3 {
		case 0:
			ss.RevokedAt = r.long
		case 1:
			ss.CreatedAt, ss.RotatedAt, ss.LastActiveAt, ss.ExpiresAt = r.long, r.long, r.long, r.long.Add(time.Hour)
		case 2:
			ss.LastActiveAt = r.long
		}
		r.endedIDs = append(r.endedIDs, mustCreateSession(t, s, ss).ID)
	}
	for i := range 8 {
		r.liveIDs = append(r.liveIDs, mustCreateSession(t, s, newSession(r.u.ID, 40+i)).ID)
	}
	for i := range 8 {
		key := fmt.Sprintf("cleanup-race:%d:%s", i, uuid.NewString())
		r.keys = append(r.keys, key)
		if _, err := s.UpdateThrottle(t.Context(), key, func(th *store.Throttle) error {
			th.Failures, th.LastFailureAt = oldFailures, r.long
			return nil
		}); err != nil {
			t.Fatalf("UpdateThrottle: %v", err)
		}
	}
	for i := range oldEvents {
		e := newEvent(i, "login.failure", r.u.ID)
		e.Time = r.long
		mustAppend(t, s, e)
	}
	r.recent = mustAppend(t, s, newEvent(1, "login.success", r.u.ID))
	r.writeTokens(t, s)
	return r
}

// writeTokens writes the one-time tokens. Each live token has a user of
// its own: spending a token uses up the user's other unused tokens of its
// purpose, and every live token must be spent once, by its updater. The
// expired tokens belong to the same users, with another purpose, so that
// the clean-up deletes tokens of users whose rows UseOneTimeToken holds.
func (r *cleanupRace) writeTokens(t *testing.T, s store.Store) {
	t.Helper()
	for i := range 8 {
		tu := mustCreateUser(t, s, newUser(310+i))
		r.tokenUsers = append(r.tokenUsers, tu)
		tok := newToken(tu, store.PurposeOTP, i)
		tok.ExpiresAt = r.now.Add(time.Hour)
		r.liveTokens = append(r.liveTokens, mustCreateToken(t, s, tok))
	}
	for i := range oldTokens {
		tok := newToken(r.tokenUsers[i%len(r.tokenUsers)], store.PurposeVerify, i)
		tok.CreatedAt, tok.ExpiresAt = r.long, r.long.Add(time.Hour)
		if i%2 == 0 {
			tok.UsedAt = r.long
		}
		mustCreateToken(t, s, tok)
	}
}

// run runs the clean-ups and the updaters at once, spread over stores,
// and returns each contender's error and how many rows it deleted.
func (r *cleanupRace) run(t *testing.T, stores []store.Store) (errs []error, deleted []int64) {
	ctx := t.Context()
	const n = kinds * updaters
	errs = make([]error, n)
	deleted = make([]int64, n)
	race(n, func(i int) {
		st := stores[i%len(stores)]
		switch i % kinds {
		case 0:
			deleted[i], errs[i] = st.DeleteEndedSessions(ctx, r.cut, r.cut, r.cut)
		case 1:
			deleted[i], errs[i] = st.DeleteThrottlesBefore(ctx, r.cut)
		case 2:
			deleted[i], errs[i] = st.DeleteAuditBefore(ctx, r.cut)
		case 3:
			errs[i] = r.update(ctx, st, i/kinds)
		case 4:
			deleted[i], errs[i] = st.DeleteOneTimeTokensBefore(ctx, r.cut)
		}
	})
	return errs, deleted
}

// update is updater k's traffic: it refreshes its share of the live
// sessions, tries a wrong code and then the right one on its share of the
// live tokens, and fails on every key.
func (r *cleanupRace) update(ctx context.Context, st store.Store, k int) error {
	for j, id := range r.liveIDs {
		if j%updaters != k {
			continue
		}
		if _, err := st.UpdateSession(ctx, id, rotate(id+"/1", r.now)); err != nil {
			return err
		}
	}
	for j, tok := range r.liveTokens {
		if j%updaters != k {
			continue
		}
		if _, err := st.UpdateOneTimeToken(ctx, tok.ID, func(x *store.OneTimeToken) error { x.Attempts++; return nil }); err != nil {
			return err
		}
		if _, _, err := st.UseOneTimeToken(ctx, tok.Hash, useOnce(r.now)); err != nil {
			return err
		}
	}
	for _, key := range r.keys {
		if _, err := st.UpdateThrottle(ctx, key, func(th *store.Throttle) error {
			th.Failures++
			th.LastFailureAt = r.now
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// checkSessions: every ended session went, once; every live one stays,
// refreshed.
func (r *cleanupRace) checkSessions(t *testing.T, s store.Store, gone int64) {
	ctx := t.Context()
	if gone != int64(len(r.endedIDs)) {
		t.Errorf("DeleteEndedSessions deleted %d in all, want %d", gone, len(r.endedIDs))
	}
	for _, id := range r.endedIDs {
		if _, err := s.GetSession(ctx, id); !isNotFound(err) {
			t.Errorf("GetSession(ended): got %v, want ErrNotFound", err)
		}
	}
	for _, id := range r.liveIDs {
		got, err := s.GetSessionByRefreshHash(ctx, hash(id+"/1"))
		if err != nil || got.ID != id || got.Generation != 1 {
			t.Errorf("live session after the race = %s generation %d, %v; want %s generation 1", got.ID, got.Generation, err, id)
		}
	}
}

// checkThrottles: once a failure at now is recorded the row is no
// longer stale, so the clean-up can only have deleted a row before every
// update: its count then restarted from zero.
func (r *cleanupRace) checkThrottles(t *testing.T, s store.Store, gone int64) {
	got, err := s.GetThrottles(t.Context(), r.keys)
	must(t, "GetThrottles", err)
	if len(got) != len(r.keys) {
		t.Fatalf("GetThrottles = %d rows, want %d", len(got), len(r.keys))
	}
	var restarted int64
	for _, th := range got {
		switch th.Failures {
		case updaters:
			restarted++
		case oldFailures + updaters:
		default:
			t.Errorf("throttle %s Failures = %d, want %d or %d", th.Key, th.Failures, updaters, oldFailures+updaters)
		}
		if !th.LastFailureAt.Equal(r.now.Truncate(time.Microsecond)) {
			t.Errorf("throttle %s LastFailureAt = %v, want %v", th.Key, th.LastFailureAt, r.now)
		}
	}
	if gone != restarted {
		t.Errorf("DeleteThrottlesBefore deleted %d in all, but %d rows restarted from zero", gone, restarted)
	}
}

// checkAudit: the old events went, once; the recent one stays.
func (r *cleanupRace) checkAudit(t *testing.T, s store.Store, gone int64) {
	if gone != oldEvents {
		t.Errorf("DeleteAuditBefore deleted %d in all, want %d", gone, oldEvents)
	}
	events, err := s.ListAudit(t.Context(), store.ListAuditOptions{UserID: r.u.ID})
	must(t, "ListAudit", err)
	diff(t, "audit events after the race", events, []store.AuditEvent{r.recent})
}

// checkTokens: the expired tokens went, once; every live one stays,
// spent by its updater.
func (r *cleanupRace) checkTokens(t *testing.T, s store.Store, gone int64) {
	if gone != oldTokens {
		t.Errorf("DeleteOneTimeTokensBefore deleted %d in all, want %d", gone, oldTokens)
	}
	for _, tu := range r.tokenUsers {
		if list, err := s.ListOneTimeTokens(t.Context(), tu.ID, store.PurposeVerify); err != nil || list != nil {
			t.Errorf("ListOneTimeTokens(expired tokens) after the race = %d tokens, %v; want nil, nil", len(list), err)
		}
	}
	for _, tok := range r.liveTokens {
		got, _, err := peek(t, s, tok.Hash)
		want := tok
		want.Attempts, want.UsedAt = 1, r.now.Truncate(micro)
		if err != nil {
			t.Errorf("live token after the race: %v", err)
		} else {
			diff(t, "live token after the race", got, want)
		}
	}
}
