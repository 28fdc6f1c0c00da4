package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/store"
)

// checkNoSession fails unless nothing of ss was written: no session with
// its id, and its refresh hash unknown.
func checkNoSession(t *testing.T, s store.Store, ss store.Session) {
	t.Helper()
	ctx := t.Context()
	if _, err := s.GetSession(ctx, ss.ID); !isNotFound(err) {
		t.Errorf("GetSession(refused session): got %v, want ErrNotFound", err)
	}
	if _, _, err := s.GetSessionWithUser(ctx, ss.ID); !isNotFound(err) {
		t.Errorf("GetSessionWithUser(refused session): got %v, want ErrNotFound", err)
	}
	if _, err := s.GetSessionByRefreshHash(ctx, ss.RefreshHash); !isNotFound(err) {
		t.Errorf("GetSessionByRefreshHash(refused session's hash): got %v, want ErrNotFound", err)
	}
}

// checkNoUser fails if the refused user was written: a user with its id
// or its email, other than existing's (existing is zero where there is
// no user to tell apart).
func checkNoUser(t *testing.T, s store.Store, refused, existing store.User) {
	t.Helper()
	ctx := t.Context()
	if refused.ID != existing.ID {
		if _, err := s.GetUser(ctx, refused.ID); !isNotFound(err) {
			t.Errorf("GetUser(refused user): got %v, want ErrNotFound", err)
		}
	}
	if refused.Email != existing.Email {
		if _, err := s.GetUserByEmail(ctx, refused.Email); !isNotFound(err) {
			t.Errorf("GetUserByEmail(refused user): got %v, want ErrNotFound", err)
		}
	}
}

func testUserCredentialEpoch(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := newUser(1)
	u.CredentialEpoch = 9
	mustCreateUser(t, s, u)
	want := stored(u)
	got := mustGet(t, "GetUser", s.GetUser, u.ID)
	diff(t, "GetUser", got, want)
	got, err := s.GetUserByEmail(ctx, u.Email)
	must(t, "GetUserByEmail", err)
	diff(t, "GetUserByEmail", got, want)
	list, err := s.ListUsers(ctx, store.ListUsersOptions{})
	must(t, "ListUsers", err)
	diff(t, "ListUsers", list, []store.User{want})

	// UseOneTimeToken saves the user whole, its epoch included: a
	// password reset raises it.
	tok := mustCreateToken(t, s, newToken(u, store.PurposeRecover, 1))
	var seen int64
	_, gotUser, err := s.UseOneTimeToken(ctx, tok.Hash, func(x *store.OneTimeToken, y *store.User) error {
		seen = y.CredentialEpoch
		x.UsedAt = at(time.Hour)
		y.CredentialEpoch++
		return nil
	})
	must(t, "UseOneTimeToken", err)
	if seen != 9 {
		t.Errorf("UseOneTimeToken's fn saw CredentialEpoch %d, want 9", seen)
	}
	want.CredentialEpoch = 10
	diff(t, "UseOneTimeToken user", gotUser, want)

	// And UpdateUser, as any change.
	got, err = s.UpdateUser(ctx, u.ID, func(x *store.User) error { x.CredentialEpoch = 11; return nil })
	must(t, "UpdateUser", err)
	want.CredentialEpoch = 11
	diff(t, "UpdateUser result", got, want)
	ss := newSession(u.ID, 1)
	ss.CredentialEpoch = 11
	mustCreateSession(t, s, ss)
	_, gotUser, err = s.GetSessionWithUser(ctx, ss.ID)
	must(t, "GetSessionWithUser", err)
	diff(t, "GetSessionWithUser user", gotUser, want)
}

func testCreateSessionStaleEpoch(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := newUser(1)
	u.CredentialEpoch = 3
	mustCreateUser(t, s, u)
	live := newSession(u.ID, 1)
	live.CredentialEpoch = 3
	mustCreateSession(t, s, live)

	for _, epoch := range []int64{0, 2, 4} {
		t.Run(fmt.Sprintf("epoch %d", epoch), func(t *testing.T) {
			ss := newSession(u.ID, 2)
			ss.CredentialEpoch = epoch
			wantErr(t, "CreateSession", s.CreateSession(ctx, ss), store.ErrStale)
			checkNoSession(t, s, ss)
			list, err := s.ListSessions(ctx, u.ID)
			must(t, "ListSessions", err)
			diff(t, "ListSessions after a refused session", list, []store.Session{stored(live)})
		})
	}

	// A credential change makes the epoch a sign-in checked against stale.
	if _, err := s.UpdateUser(ctx, u.ID, func(x *store.User) error { x.CredentialEpoch++; return nil }); err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	late := newSession(u.ID, 3)
	late.CredentialEpoch = 3
	wantErr(t, "CreateSession(epoch before the change)", s.CreateSession(ctx, late), store.ErrStale)
	checkNoSession(t, s, late)
	late.CredentialEpoch = 4
	mustCreateSession(t, s, late)
	got := mustGet(t, "GetSession", s.GetSession, late.ID)
	diff(t, "session with the epoch after the change", got, stored(late))

	// Staleness is the user's epoch only: an unknown user is still
	// ErrNotFound.
	other := newSession(newUser(2).ID, 4)
	wantErr(t, "CreateSession(unknown user)", s.CreateSession(ctx, other), store.ErrNotFound)
}

func testCreateUserWithSessionStaleEpoch(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i, c := range []struct {
		name          string
		user, session int64
	}{
		{"session behind", 2, 1},
		{"session ahead", 0, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			u := newUser(10 + i)
			u.CredentialEpoch = c.user
			ss := newSession(u.ID, i)
			ss.CredentialEpoch = c.session
			wantErr(t, "CreateUserWithSession", s.CreateUserWithSession(ctx, u, ss), store.ErrStale)
			// Neither the user nor the session was written.
			checkNoUser(t, s, u, store.User{})
			checkNoSession(t, s, ss)
		})
	}

	u := newUser(20)
	u.CredentialEpoch = 5
	ss := newSession(u.ID, 5)
	ss.CredentialEpoch = 5
	must(t, "CreateUserWithSession(same epoch)", s.CreateUserWithSession(ctx, u, ss))
	gotSession, gotUser, err := s.GetSessionWithUser(ctx, ss.ID)
	must(t, "GetSessionWithUser", err)
	diff(t, "session of the signup", gotSession, stored(ss))
	diff(t, "user of the signup", gotUser, stored(u))
}

// testSessionAuthTimeAndEpoch follows AuthTime and CredentialEpoch
// through every method that reads or writes a session. A zero AuthTime
// (a session from an email link) stays zero.
func testSessionAuthTimeAndEpoch(t *testing.T, s store.Store) {
	u := newUser(1)
	u.CredentialEpoch = 2
	mustCreateUser(t, s, u)
	a := &authTimeCase{s: s, u: u, wantUser: stored(u)}
	a.proved = newSession(u.ID, 1) // AuthTime with nanoseconds, in a zone
	a.proved.CredentialEpoch = 2
	a.link = newSession(u.ID, 2)
	a.link.CredentialEpoch = 2
	a.link.AuthTime = time.Time{}
	for _, ss := range []store.Session{a.proved, a.link} {
		mustCreateSession(t, s, ss)
	}
	a.wantProved, a.wantLink = stored(a.proved), stored(a.link)
	a.check(t, "created")

	t.Run("UpdateSession", a.testUpdateSession)
	t.Run("UpdateSessionByRefreshHash", a.testUpdateSessionByRefreshHash)
	t.Run("ZeroAuthTimeNewEpoch", a.testZeroAuthTimeNewEpoch)
}

// authTimeCase is what the steps of testSessionAuthTimeAndEpoch share:
// the user at epoch 2 and its two sessions as created (proved, with an
// AuthTime; link, from an email link, without) and as the store must
// hold them by now.
type authTimeCase struct {
	s                    store.Store
	u, wantUser          store.User
	proved, link         store.Session
	wantProved, wantLink store.Session
}

// check reads both sessions through every method that returns a session
// after step.
func (a *authTimeCase) check(t *testing.T, step string) {
	t.Helper()
	ctx := t.Context()
	for _, want := range []store.Session{a.wantProved, a.wantLink} {
		got, err := a.s.GetSession(ctx, want.ID)
		if err != nil {
			t.Fatalf("%s: GetSession: %v", step, err)
		}
		diff(t, step+": GetSession", got, want)
		got, err = a.s.GetSessionByRefreshHash(ctx, want.RefreshHash)
		if err != nil {
			t.Fatalf("%s: GetSessionByRefreshHash: %v", step, err)
		}
		diff(t, step+": GetSessionByRefreshHash", got, want)
		got, gotUser, err := a.s.GetSessionWithUser(ctx, want.ID)
		if err != nil {
			t.Fatalf("%s: GetSessionWithUser: %v", step, err)
		}
		diff(t, step+": GetSessionWithUser session", got, want)
		diff(t, step+": GetSessionWithUser user", gotUser, a.wantUser)
	}
	list, err := a.s.ListSessions(ctx, a.u.ID)
	if err != nil {
		t.Fatalf("%s: ListSessions: %v", step, err)
	}
	diff(t, step+": ListSessions", list, []store.Session{a.wantLink, a.wantProved})
}

// testUpdateSession: fn sees both fields and saves a new AuthTime (a
// step-up); a rotation alone keeps them.
func (a *authTimeCase) testUpdateSession(t *testing.T) {
	ctx := t.Context()
	proved, link := a.proved, a.link
	var seen store.Session
	got, err := a.s.UpdateSession(ctx, proved.ID, func(ss *store.Session) error {
		seen = *ss
		ss.AuthTime = at(5 * time.Hour)
		return nil
	})
	must(t, "UpdateSession", err)
	diff(t, "session seen by UpdateSession's fn", seen, stored(proved))
	a.wantProved.AuthTime = at(5 * time.Hour).Truncate(micro)
	diff(t, "UpdateSession result", got, a.wantProved)
	got, err = a.s.UpdateSession(ctx, link.ID, rotate(link.ID+"/1", at(6*time.Hour)))
	must(t, "UpdateSession(rotate)", err)
	a.wantLink.ParentHash, a.wantLink.RefreshHash = link.RefreshHash, hash(link.ID+"/1")
	a.wantLink.RotatedAt, a.wantLink.LastActiveAt, a.wantLink.Generation = at(6*time.Hour).Truncate(micro), at(6*time.Hour).Truncate(micro), 1
	diff(t, "UpdateSession(rotate) result", got, a.wantLink)
	a.check(t, "after UpdateSession")
}

// testUpdateSessionByRefreshHash: a refresh does not change AuthTime; a
// re-authentication through it sets one where there was none.
func (a *authTimeCase) testUpdateSessionByRefreshHash(t *testing.T) {
	ctx := t.Context()
	proved := a.proved
	var (
		seen     store.Session
		seenUser store.User
	)
	got, gotUser, err := a.s.UpdateSessionByRefreshHash(ctx, proved.RefreshHash, func(ss *store.Session, su store.User) error {
		seen, seenUser = *ss, su
		return rotate(proved.ID+"/1", at(7*time.Hour))(ss)
	})
	must(t, "UpdateSessionByRefreshHash", err)
	diff(t, "session seen by UpdateSessionByRefreshHash's fn", seen, a.wantProved)
	diff(t, "user seen by UpdateSessionByRefreshHash's fn", seenUser, a.wantUser)
	diff(t, "UpdateSessionByRefreshHash user", gotUser, a.wantUser)
	a.wantProved.ParentHash, a.wantProved.RefreshHash = proved.RefreshHash, hash(proved.ID+"/1")
	a.wantProved.RotatedAt, a.wantProved.LastActiveAt, a.wantProved.Generation = at(7*time.Hour).Truncate(micro), at(7*time.Hour).Truncate(micro), 1
	diff(t, "UpdateSessionByRefreshHash result", got, a.wantProved)
	got, _, err = a.s.UpdateSessionByRefreshHash(ctx, a.wantLink.RefreshHash, func(ss *store.Session, _ store.User) error {
		seen = *ss
		ss.AuthTime = at(8 * time.Hour)
		return nil
	})
	must(t, "UpdateSessionByRefreshHash(re-authenticate)", err)
	if !seen.AuthTime.IsZero() {
		t.Errorf("fn saw AuthTime %v on a session without one, want zero", seen.AuthTime)
	}
	a.wantLink.AuthTime = at(8 * time.Hour).Truncate(micro)
	diff(t, "UpdateSessionByRefreshHash(re-authenticate) result", got, a.wantLink)
	a.check(t, "after UpdateSessionByRefreshHash")
}

// testZeroAuthTimeNewEpoch: back to zero, and a new epoch: both saved.
func (a *authTimeCase) testZeroAuthTimeNewEpoch(t *testing.T) {
	got, err := a.s.UpdateSession(t.Context(), a.link.ID, func(ss *store.Session) error {
		ss.AuthTime, ss.CredentialEpoch = time.Time{}, 3
		return nil
	})
	must(t, "UpdateSession(zero AuthTime)", err)
	a.wantLink.AuthTime, a.wantLink.CredentialEpoch = time.Time{}, 3
	diff(t, "UpdateSession(zero AuthTime) result", got, a.wantLink)
	a.check(t, "after clearing AuthTime")
}

// testEpochRace: a password change raises the user's credential epoch
// and then revokes all the user's sessions, while sign-ins that checked
// the old password keep creating sessions under the old epoch until
// refused. Afterwards no live session of the old epoch may exist: each
// was created before the change committed, and revoked with the rest, or
// refused with ErrStale. This is what the epoch is for.
func testEpochRace(t *testing.T, stores []store.Store) {
	ctx := t.Context()
	u := mustCreateUser(t, stores[0], newUser(500))
	mustCreateSession(t, stores[0], newSession(u.ID, 1))
	const creators, maxTries = 12, 1000
	changedAt := at(time.Hour)
	created := make([][]string, creators) // by creator, the sessions it made
	errs := make([]error, creators+1)
	var revoked int64
	race(creators+1, func(i int) {
		s := stores[i%len(stores)]
		if i == creators {
			if _, err := s.UpdateUser(ctx, u.ID, func(x *store.User) error {
				x.CredentialEpoch++
				x.PasswordChangedAt = changedAt
				return nil
			}); err != nil {
				errs[i] = err
				return
			}
			revoked, errs[i] = s.RevokeSessions(ctx, u.ID, "", changedAt)
			return
		}
		for range maxTries {
			ss := newSession(u.ID, 2)
			err := s.CreateSession(ctx, ss)
			if errors.Is(err, store.ErrStale) {
				return
			}
			if err != nil {
				errs[i] = err
				return
			}
			created[i] = append(created[i], ss.ID)
		}
		errs[i] = fmt.Errorf("CreateSession under the old epoch not refused after %d sessions", maxTries)
	})
	noErrors(t, "goroutine", errs)

	list, err := stores[0].ListSessions(ctx, u.ID)
	must(t, "ListSessions", err)
	for _, ss := range list {
		t.Errorf("live session %s of epoch %d after the change", ss.ID, ss.CredentialEpoch)
	}
	total := int64(1)
	for _, ids := range created {
		for _, id := range ids {
			total++
			got, err := stores[0].GetSession(ctx, id)
			if err != nil {
				t.Errorf("GetSession(created in the race): %v", err)
			} else if !got.RevokedAt.Equal(changedAt.Truncate(micro)) {
				t.Errorf("session created in the race: RevokedAt %v, want %v", got.RevokedAt, changedAt)
			}
		}
	}
	if revoked != total {
		t.Errorf("RevokeSessions revoked %d, want %d (the session made before and the %d made in the race)", revoked, total, total-1)
	}
	// A sign-in with the new password goes through.
	ss := newSession(u.ID, 3)
	ss.CredentialEpoch = 1
	if err := stores[0].CreateSession(ctx, ss); err != nil {
		t.Errorf("CreateSession(the new epoch): %v", err)
	}
}
