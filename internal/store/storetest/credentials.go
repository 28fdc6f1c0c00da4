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
	ctx := t.Context()
	u := newUser(1)
	u.CredentialEpoch = 2
	mustCreateUser(t, s, u)
	wantUser := stored(u)
	proved := newSession(u.ID, 1) // AuthTime with nanoseconds, in a zone
	proved.CredentialEpoch = 2
	link := newSession(u.ID, 2)
	link.CredentialEpoch = 2
	link.AuthTime = time.Time{}
	for _, ss := range []store.Session{proved, link} {
		mustCreateSession(t, s, ss)
	}
	wantProved, wantLink := stored(proved), stored(link)

	check := func(step string) {
		t.Helper()
		for _, want := range []store.Session{wantProved, wantLink} {
			got, err := s.GetSession(ctx, want.ID)
			if err != nil {
				t.Fatalf("%s: GetSession: %v", step, err)
			}
			diff(t, step+": GetSession", got, want)
			got, err = s.GetSessionByRefreshHash(ctx, want.RefreshHash)
			if err != nil {
				t.Fatalf("%s: GetSessionByRefreshHash: %v", step, err)
			}
			diff(t, step+": GetSessionByRefreshHash", got, want)
			got, gotUser, err := s.GetSessionWithUser(ctx, want.ID)
			if err != nil {
				t.Fatalf("%s: GetSessionWithUser: %v", step, err)
			}
			diff(t, step+": GetSessionWithUser session", got, want)
			diff(t, step+": GetSessionWithUser user", gotUser, wantUser)
		}
		list, err := s.ListSessions(ctx, u.ID)
		if err != nil {
			t.Fatalf("%s: ListSessions: %v", step, err)
		}
		diff(t, step+": ListSessions", list, []store.Session{wantLink, wantProved})
	}
	check("created")

	// UpdateSession: fn sees both fields and saves a new AuthTime (a
	// step-up); a rotation alone keeps them.
	var seen store.Session
	got, err := s.UpdateSession(ctx, proved.ID, func(ss *store.Session) error {
		seen = *ss
		ss.AuthTime = at(5 * time.Hour)
		return nil
	})
	must(t, "UpdateSession", err)
	diff(t, "session seen by UpdateSession's fn", seen, stored(proved))
	wantProved.AuthTime = at(5 * time.Hour).Truncate(micro)
	diff(t, "UpdateSession result", got, wantProved)
	got, err = s.UpdateSession(ctx, link.ID, rotate(link.ID+"/1", at(6*time.Hour)))
	must(t, "UpdateSession(rotate)", err)
	wantLink.ParentHash, wantLink.RefreshHash = link.RefreshHash, hash(link.ID+"/1")
	wantLink.RotatedAt, wantLink.LastActiveAt, wantLink.Generation = at(6*time.Hour).Truncate(micro), at(6*time.Hour).Truncate(micro), 1
	diff(t, "UpdateSession(rotate) result", got, wantLink)
	check("after UpdateSession")

	// UpdateSessionByRefreshHash: a refresh does not change AuthTime; a
	// re-authentication through it sets one where there was none.
	var seenUser store.User
	got, gotUser, err := s.UpdateSessionByRefreshHash(ctx, proved.RefreshHash, func(ss *store.Session, su store.User) error {
		seen, seenUser = *ss, su
		return rotate(proved.ID+"/1", at(7*time.Hour))(ss)
	})
	must(t, "UpdateSessionByRefreshHash", err)
	diff(t, "session seen by UpdateSessionByRefreshHash's fn", seen, wantProved)
	diff(t, "user seen by UpdateSessionByRefreshHash's fn", seenUser, wantUser)
	diff(t, "UpdateSessionByRefreshHash user", gotUser, wantUser)
	wantProved.ParentHash, wantProved.RefreshHash = proved.RefreshHash, hash(proved.ID+"/1")
	wantProved.RotatedAt, wantProved.LastActiveAt, wantProved.Generation = at(7*time.Hour).Truncate(micro), at(7*time.Hour).Truncate(micro), 1
	diff(t, "UpdateSessionByRefreshHash result", got, wantProved)
	got, _, err = s.UpdateSessionByRefreshHash(ctx, wantLink.RefreshHash, func(ss *store.Session, _ store.User) error {
		seen = *ss
		ss.AuthTime = at(8 * time.Hour)
		return nil
	})
	must(t, "UpdateSessionByRefreshHash(re-authenticate)", err)
	if !seen.AuthTime.IsZero() {
		t.Errorf("fn saw AuthTime %v on a session without one, want zero", seen.AuthTime)
	}
	wantLink.AuthTime = at(8 * time.Hour).Truncate(micro)
	diff(t, "UpdateSessionByRefreshHash(re-authenticate) result", got, wantLink)
	check("after UpdateSessionByRefreshHash")

	// Back to zero, and a new epoch: both saved.
	got, err = s.UpdateSession(ctx, link.ID, func(ss *store.Session) error {
		ss.AuthTime, ss.CredentialEpoch = time.Time{}, 3
		return nil
	})
	must(t, "UpdateSession(zero AuthTime)", err)
	wantLink.AuthTime, wantLink.CredentialEpoch = time.Time{}, 3
	diff(t, "UpdateSession(zero AuthTime) result", got, wantLink)
	check("after clearing AuthTime")
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
