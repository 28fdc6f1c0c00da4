package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/latchauth/latch/internal/store"
)

func testSessionRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mustCreateUser(t, s, newUser(1))

	fresh := newSession(u.ID, 1)

	rotated := newSession(u.ID, 2)
	rotated.RevokedAt = at(50 * time.Hour)
	rotated.AMR = []string{"pwd", "otp"}
	rotated.AAL = "aal2"
	rotated.ParentHash = hash("rotated/6")
	rotated.RotatedAt = at(49 * time.Hour)
	rotated.Generation = 7

	// Empty AMR and hashes come back nil, whatever their spelling.
	bare := newSession(u.ID, 3)
	bare.UserAgent, bare.IP, bare.AAL = "", "", ""
	bare.AMR = []string{}
	bare.ParentHash = []byte{}
	wantBare := stored(bare)
	wantBare.AMR = nil
	wantBare.ParentHash = nil

	nilAMR := newSession(u.ID, 4)
	nilAMR.AMR = nil

	tests := []struct {
		name string
		in   store.Session
		want store.Session
	}{
		{"fresh: nil parent hash, zero revoked time", fresh, stored(fresh)},
		{"rotated and revoked", rotated, stored(rotated)},
		{"empty slices", bare, wantBare},
		{"nil AMR", nilAMR, stored(nilAMR)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustCreateSession(t, s, tt.in)
			got := mustGet(t, "GetSession", s.GetSession, tt.in.ID)
			diff(t, "GetSession", got, tt.want)
			got, err := s.GetSessionByRefreshHash(ctx, tt.in.RefreshHash)
			must(t, "GetSessionByRefreshHash", err)
			diff(t, "GetSessionByRefreshHash", got, tt.want)
		})
	}
}

func testCreateSessionErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	u, orig := userWithSession(t, s)
	if _, err := s.UpdateSession(ctx, orig.ID, rotate("orig/1", at(time.Hour))); err != nil {
		t.Fatalf("UpdateSession: %v", err)
	}
	want := mustGet(t, "GetSession", s.GetSession, orig.ID)

	tests := []struct {
		name   string
		change func(*store.Session)
		want   error // nil: any error will do
	}{
		{"same id", func(ss *store.Session) { ss.ID = orig.ID }, store.ErrAlreadyExists},
		{"unknown user", func(ss *store.Session) { ss.UserID = uuid.NewString() }, store.ErrNotFound},
		{"malformed user id", func(ss *store.Session) { ss.UserID = "nope" }, store.ErrNotFound},
		{"live refresh hash of another session", func(ss *store.Session) { ss.RefreshHash = hash("orig/1") }, store.ErrAlreadyExists},
		{"rotated-away refresh hash of another session", func(ss *store.Session) { ss.RefreshHash = orig.RefreshHash }, store.ErrAlreadyExists},
		{"no refresh hash", func(ss *store.Session) { ss.RefreshHash = nil }, nil},
		{"malformed id", func(ss *store.Session) { ss.ID = "nope" }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ss := newSession(u.ID, 2)
			tt.change(&ss)
			err := s.CreateSession(ctx, ss)
			wantFailure(t, "CreateSession", err, tt.want)
			if ss.ID != orig.ID {
				if _, err := s.GetSession(ctx, ss.ID); !isNotFound(err) {
					t.Errorf("GetSession(refused session): got %v, want ErrNotFound", err)
				}
			}
			got := mustGet(t, "GetSession", s.GetSession, orig.ID)
			diff(t, "existing session", got, want)
			list, err := s.ListSessions(ctx, u.ID)
			if err != nil || len(list) != 1 {
				t.Errorf("ListSessions = %d sessions, %v; want 1, nil", len(list), err)
			}
		})
	}
}

func testUserWithSessionRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := newUser(1)
	ss := newSession(u.ID, 1)
	must(t, "CreateUserWithSession", s.CreateUserWithSession(ctx, u, ss))
	gotU := mustGet(t, "GetUser", s.GetUser, u.ID)
	diff(t, "GetUser", gotU, stored(u))
	got := mustGet(t, "GetSession", s.GetSession, ss.ID)
	diff(t, "GetSession", got, stored(ss))
	got, err := s.GetSessionByRefreshHash(ctx, ss.RefreshHash)
	must(t, "GetSessionByRefreshHash", err)
	diff(t, "GetSessionByRefreshHash", got, stored(ss))
	got, gotU, err = s.GetSessionWithUser(ctx, ss.ID)
	must(t, "GetSessionWithUser", err)
	diff(t, "GetSessionWithUser session", got, stored(ss))
	diff(t, "GetSessionWithUser user", gotU, stored(u))

	// Ids in another accepted spelling are stored in canonical form.
	upper := newUser(2)
	canonical := upper.ID
	upper.ID = "{" + strings.ToUpper(canonical) + "}"
	us := newSession(strings.ToUpper(canonical), 2)
	must(t, "CreateUserWithSession with non-canonical ids", s.CreateUserWithSession(ctx, upper, us))
	got = mustGet(t, "GetSession", s.GetSession, us.ID)
	if got.UserID != canonical {
		t.Errorf("session's user id = %q, want %q", got.UserID, canonical)
	}
}

func testCreateUserWithSessionConflicts(t *testing.T, s store.Store) {
	ctx := t.Context()
	orig := mustCreateUser(t, s, newUser(1))
	origSess := mustCreateSession(t, s, newSession(orig.ID, 1))

	tests := []struct {
		name   string
		change func(*store.User, *store.Session)
		want   error // nil: any error will do
	}{
		{"same email", func(u *store.User, _ *store.Session) { u.Email = orig.Email }, store.ErrAlreadyExists},
		{"same user id", func(u *store.User, ss *store.Session) { u.ID, ss.UserID = orig.ID, orig.ID }, store.ErrAlreadyExists},
		{"same session id", func(_ *store.User, ss *store.Session) { ss.ID = origSess.ID }, store.ErrAlreadyExists},
		{"taken refresh hash", func(_ *store.User, ss *store.Session) { ss.RefreshHash = origSess.RefreshHash }, store.ErrAlreadyExists},
		{"session of another user", func(_ *store.User, ss *store.Session) { ss.UserID = orig.ID }, nil},
		{"no refresh hash", func(_ *store.User, ss *store.Session) { ss.RefreshHash = nil }, nil},
		{"malformed session id", func(_ *store.User, ss *store.Session) { ss.ID = "nope" }, nil},
		{"malformed user id", func(u *store.User, ss *store.Session) { u.ID, ss.UserID = "nope", "nope" }, nil},
		{"invalid metadata", func(u *store.User, _ *store.Session) { u.Metadata = json.RawMessage(`{`) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUser(2)
			ss := newSession(u.ID, 2)
			tt.change(&u, &ss)
			err := s.CreateUserWithSession(ctx, u, ss)
			wantFailure(t, "CreateUserWithSession", err, tt.want)
			// Nothing written: no new user, no new session, no new
			// refresh token.
			checkNoUser(t, s, u, orig)
			if ss.ID != origSess.ID {
				if _, err := s.GetSession(ctx, ss.ID); !isNotFound(err) {
					t.Errorf("GetSession(refused session): got %v, want ErrNotFound", err)
				}
			}
			if len(ss.RefreshHash) > 0 && string(ss.RefreshHash) != string(origSess.RefreshHash) {
				if _, err := s.GetSessionByRefreshHash(ctx, ss.RefreshHash); !isNotFound(err) {
					t.Errorf("GetSessionByRefreshHash(refused session): got %v, want ErrNotFound", err)
				}
			}
			gotU := mustGet(t, "GetUser", s.GetUser, orig.ID)
			diff(t, "existing user", gotU, stored(orig))
			got := mustGet(t, "GetSession", s.GetSession, origSess.ID)
			diff(t, "existing session", got, stored(origSess))
			list, err := s.ListSessions(ctx, orig.ID)
			if err != nil || len(list) != 1 {
				t.Errorf("ListSessions = %d sessions, %v; want 1, nil", len(list), err)
			}
			users, err := s.ListUsers(ctx, store.ListUsersOptions{})
			if err != nil || len(users) != 1 {
				t.Errorf("ListUsers = %d users, %v; want 1, nil", len(users), err)
			}
		})
	}
}

func testSessionNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	userWithSession(t, s)
	wantNotFound(t, []lookup[store.Session]{
		{"unknown id", func() (store.Session, error) { return s.GetSession(ctx, uuid.NewString()) }},
		{"malformed id", func() (store.Session, error) { return s.GetSession(ctx, "nope") }},
		{"unknown hash", func() (store.Session, error) { return s.GetSessionByRefreshHash(ctx, hash("unknown")) }},
		{"nil hash", func() (store.Session, error) { return s.GetSessionByRefreshHash(ctx, nil) }},
		{"empty hash", func() (store.Session, error) { return s.GetSessionByRefreshHash(ctx, []byte{}) }},
	})
}

func testRefreshHashHistory(t *testing.T, s store.Store) {
	ctx := t.Context()
	u, sess := userWithSession(t, s)
	other := mustCreateSession(t, s, newSession(u.ID, 2))

	hashes := [][]byte{sess.RefreshHash}
	var last store.Session
	for i := 1; i <= 3; i++ {
		next := fmt.Sprintf("history/%d", i)
		var err error
		last, err = s.UpdateSession(ctx, sess.ID, rotate(next, at(time.Duration(i)*time.Minute)))
		if err != nil {
			t.Fatalf("rotation %d: %v", i, err)
		}
		hashes = append(hashes, hash(next))
	}
	if last.Generation != 3 {
		t.Errorf("Generation after 3 rotations = %d, want 3", last.Generation)
	}
	diff(t, "RefreshHash after 3 rotations", last.RefreshHash, hash("history/3"))
	diff(t, "ParentHash after 3 rotations", last.ParentHash, hash("history/2"))

	for i, h := range hashes {
		got, err := s.GetSessionByRefreshHash(ctx, h)
		if err != nil {
			t.Errorf("GetSessionByRefreshHash(hash %d): %v", i, err)
			continue
		}
		diff(t, fmt.Sprintf("session found by hash %d", i), got, last)
	}
	got, err := s.GetSessionByRefreshHash(ctx, other.RefreshHash)
	must(t, "GetSessionByRefreshHash(other)", err)
	diff(t, "other session", got, stored(other))
}

func testUpdateSession(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, orig := userWithSession(t, s)

	var seen store.Session
	got, err := s.UpdateSession(ctx, orig.ID, func(ss *store.Session) error {
		seen = *ss
		ss.LastActiveAt = at(10 * time.Hour)
		ss.ExpiresAt = at(20 * time.Hour)
		ss.RevokedAt = at(11 * time.Hour)
		ss.UserAgent = "curl/8"
		ss.IP = "192.0.2.7"
		ss.AMR = []string{"pwd", "webauthn"}
		ss.AAL = "aal2"
		ss.ParentHash = ss.RefreshHash
		ss.RefreshHash = hash("update/1")
		ss.RotatedAt = at(10 * time.Hour)
		ss.Generation = 1
		return nil
	})
	must(t, "UpdateSession", err)
	diff(t, "session seen by fn", seen, stored(orig))

	want := stored(orig)
	want.LastActiveAt = at(10 * time.Hour).Truncate(time.Microsecond)
	want.ExpiresAt = at(20 * time.Hour).Truncate(time.Microsecond)
	want.RevokedAt = at(11 * time.Hour).Truncate(time.Microsecond)
	want.UserAgent = "curl/8"
	want.IP = "192.0.2.7"
	want.AMR = []string{"pwd", "webauthn"}
	want.AAL = "aal2"
	want.ParentHash = orig.RefreshHash
	want.RefreshHash = hash("update/1")
	want.RotatedAt = at(10 * time.Hour).Truncate(time.Microsecond)
	want.Generation = 1
	diff(t, "UpdateSession result", got, want)
	reread := mustGet(t, "GetSession", s.GetSession, orig.ID)
	diff(t, "GetSession after UpdateSession", reread, want)

	// Without a rotation: fields back to zero and nil, hashes kept.
	got, err = s.UpdateSession(ctx, orig.ID, func(ss *store.Session) error {
		ss.RevokedAt = time.Time{}
		ss.AMR = nil
		ss.ParentHash = nil
		return nil
	})
	must(t, "UpdateSession (no rotation)", err)
	want.RevokedAt = time.Time{}
	want.AMR = nil
	want.ParentHash = nil
	diff(t, "UpdateSession result (no rotation)", got, want)
	for _, h := range [][]byte{orig.RefreshHash, hash("update/1")} {
		if _, err := s.GetSessionByRefreshHash(ctx, h); err != nil {
			t.Errorf("GetSessionByRefreshHash after update: %v", err)
		}
	}
}

// testUpdateSessionOneField changes one field at a time, with and without
// a rotation: a backend may write only the columns that changed (SQLite
// has a narrower statement for rotations), and none may be left out.
func testUpdateSessionOneField(t *testing.T, s store.Store) {
	u := mustCreateUser(t, s, newUser(1))
	for _, tc := range []struct {
		name   string
		change func(*store.Session)
	}{
		{"CreatedAt", func(ss *store.Session) { ss.CreatedAt = at(-time.Hour) }},
		{"ExpiresAt", func(ss *store.Session) { ss.ExpiresAt = at(40 * time.Hour) }},
		{"RevokedAt", func(ss *store.Session) { ss.RevokedAt = at(3 * time.Hour) }},
		{"UserAgent", func(ss *store.Session) { ss.UserAgent = "curl/8" }},
		{"IP", func(ss *store.Session) { ss.IP = "192.0.2.7" }},
		{"AMR", func(ss *store.Session) { ss.AMR = []string{"pwd", "otp"} }},
		{"AAL", func(ss *store.Session) { ss.AAL = "aal2" }},
		{"LastActiveAt", func(ss *store.Session) { ss.LastActiveAt = at(5 * time.Hour) }},
		{"AuthTime", func(ss *store.Session) { ss.AuthTime = at(6 * time.Hour) }},
		{"AuthTime to zero", func(ss *store.Session) { ss.AuthTime = time.Time{} }},
		{"CredentialEpoch", func(ss *store.Session) { ss.CredentialEpoch = 3 }},
	} {
		for _, rotate := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/rotate=%v", tc.name, rotate), func(t *testing.T) {
				ctx := t.Context()
				orig := mustCreateSession(t, s, newSession(u.ID, 1))
				want := stored(orig)
				tc.change(&want)
				if rotate {
					want.ParentHash = want.RefreshHash
					want.RefreshHash = hash(orig.ID + "/1")
					want.RotatedAt = at(4 * time.Hour)
					want.Generation++
				}
				want = stored(want)
				got, err := s.UpdateSession(ctx, orig.ID, func(ss *store.Session) error {
					tc.change(ss)
					if rotate {
						ss.ParentHash = ss.RefreshHash
						ss.RefreshHash = hash(orig.ID + "/1")
						ss.RotatedAt = at(4 * time.Hour)
						ss.Generation++
					}
					return nil
				})
				must(t, "UpdateSession", err)
				diff(t, "UpdateSession result", got, want)
				reread := mustGet(t, "GetSession", s.GetSession, orig.ID)
				diff(t, "GetSession after UpdateSession", reread, want)
			})
		}
	}
}

func testUpdateSessionErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	u, orig := userWithSession(t, s)
	if _, err := s.UpdateSession(ctx, orig.ID, rotate("orig/1", at(time.Hour))); err != nil {
		t.Fatalf("UpdateSession: %v", err)
	}
	want := mustGet(t, "GetSession", s.GetSession, orig.ID)
	other := mustCreateSession(t, s, newSession(u.ID, 2))
	otherUser := mustCreateUser(t, s, newUser(2))

	runFailedUpdates(t, "UpdateSession", s.UpdateSession, []failedUpdate[string, store.Session]{
		{"unknown id", uuid.NewString(), func(*store.Session) error { return nil }, store.ErrNotFound, false},
		{"malformed id", "nope", func(*store.Session) error { return nil }, store.ErrNotFound, false},
		{"fn error after rotating", orig.ID, func(ss *store.Session) error {
			if err := rotate("never", at(2*time.Hour))(ss); err != nil {
				return err
			}
			ss.RevokedAt = at(2 * time.Hour)
			return errBoom
		}, errBoom, true},
		{"rotation to another session's hash", orig.ID, func(ss *store.Session) error {
			ss.RefreshHash = other.RefreshHash
			ss.Generation++
			return nil
		}, store.ErrAlreadyExists, true},
		{"rotation back to an old hash", orig.ID, func(ss *store.Session) error {
			ss.RefreshHash = orig.RefreshHash
			ss.Generation++
			return nil
		}, store.ErrAlreadyExists, true},
		{"empty refresh hash", orig.ID, func(ss *store.Session) error { ss.RefreshHash = nil; return nil }, nil, true},
		{"id changed", orig.ID, func(ss *store.Session) error { ss.ID = uuid.NewString(); return nil }, nil, true},
		{"user id changed", orig.ID, func(ss *store.Session) error { ss.UserID = otherUser.ID; return nil }, nil, true},
	}, func(t *testing.T) {
		sessionUnchanged(t, s, orig.ID, want)
		got, err := s.GetSessionByRefreshHash(ctx, other.RefreshHash)
		must(t, "GetSessionByRefreshHash(other)", err)
		if got.ID != other.ID {
			t.Errorf("other session's hash now finds session %s, want %s", got.ID, other.ID)
		}
	})
}

// sessionUnchanged checks, after a failed update, that the session with
// id is still want and that no rotation to hash("never") was recorded.
func sessionUnchanged(t *testing.T, s store.Store, id string, want store.Session) {
	t.Helper()
	got := mustGet(t, "GetSession", s.GetSession, id)
	diff(t, "session after failed update", got, want)
	if _, err := s.GetSessionByRefreshHash(t.Context(), hash("never")); !isNotFound(err) {
		t.Errorf("GetSessionByRefreshHash(hash of a rolled-back rotation): got %v, want ErrNotFound", err)
	}
}

func testListSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	u, v := twoUsers(t, s)
	var mine []store.Session
	// Created out of order so that insertion order cannot pass for
	// "newest first".
	for _, n := range []int{3, 1, 4, 2} {
		mine = append(mine, mustCreateSession(t, s, newSession(u.ID, n)))
	}
	revoked := mine[3] // n == 2
	if _, err := s.UpdateSession(ctx, revoked.ID, func(ss *store.Session) error {
		ss.RevokedAt = at(100 * time.Hour)
		return nil
	}); err != nil {
		t.Fatalf("UpdateSession: %v", err)
	}
	// Expired sessions are listed; the caller judges expiry.
	expired := mine[1] // n == 1
	if _, err := s.UpdateSession(ctx, expired.ID, func(ss *store.Session) error {
		ss.ExpiresAt = at(-time.Hour)
		return nil
	}); err != nil {
		t.Fatalf("UpdateSession: %v", err)
	}
	theirs := mustCreateSession(t, s, newSession(v.ID, 9))

	wantExpired := stored(expired)
	wantExpired.ExpiresAt = at(-time.Hour).Truncate(time.Microsecond)
	tests := []struct {
		name   string
		userID string
		want   []store.Session
	}{
		{"newest first, revoked left out", u.ID, []store.Session{stored(mine[2]), stored(mine[0]), wantExpired}},
		{"other user", v.ID, []store.Session{stored(theirs)}},
		{"unknown user", uuid.NewString(), nil},
		{"malformed user id", "nope", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListSessions(ctx, tt.userID)
			must(t, "ListSessions", err)
			if len(got) == 0 && len(tt.want) == 0 {
				return
			}
			diff(t, "ListSessions", got, tt.want)
		})
	}
}

func testRevokeSessions(t *testing.T, s store.Store) {
	tests := []struct {
		name   string
		except int // index of the session to keep, or -1
		want   int64
	}{
		{"all", -1, 3},
		{"all but one", 1, 2},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			u := mustCreateUser(t, s, newUser(10*i+1))
			v := mustCreateUser(t, s, newUser(10*i+2))
			var live []store.Session
			for n := range 3 {
				live = append(live, mustCreateSession(t, s, newSession(u.ID, n)))
			}
			old := mustCreateSession(t, s, newSession(u.ID, 5))
			earlier := at(time.Minute)
			if _, err := s.UpdateSession(ctx, old.ID, func(ss *store.Session) error {
				ss.RevokedAt = earlier
				return nil
			}); err != nil {
				t.Fatalf("UpdateSession: %v", err)
			}
			theirs := mustCreateSession(t, s, newSession(v.ID, 1))

			except := ""
			if tt.except >= 0 {
				except = live[tt.except].ID
			}
			when := at(time.Hour)
			n, err := s.RevokeSessions(ctx, u.ID, except, when)
			must(t, "RevokeSessions", err)
			if n != tt.want {
				t.Errorf("RevokeSessions = %d, want %d", n, tt.want)
			}

			check := func(id string, want time.Time) {
				t.Helper()
				got := mustGet(t, "GetSession", s.GetSession, id)
				if !got.RevokedAt.Equal(want.Truncate(time.Microsecond)) {
					t.Errorf("session %s RevokedAt = %v, want %v", id, got.RevokedAt, want)
				}
			}
			for j, ss := range live {
				if j == tt.except {
					check(ss.ID, time.Time{})
				} else {
					check(ss.ID, when)
				}
			}
			check(old.ID, earlier)
			check(theirs.ID, time.Time{})

			n, err = s.RevokeSessions(ctx, u.ID, except, when.Add(time.Hour))
			if err != nil || n != 0 {
				t.Errorf("RevokeSessions again = %d, %v; want 0, nil", n, err)
			}
		})
	}
	n, err := s.RevokeSessions(t.Context(), uuid.NewString(), "", at(time.Hour))
	if err != nil || n != 0 {
		t.Errorf("RevokeSessions(unknown user) = %d, %v; want 0, nil", n, err)
	}
}

func testSessionWithUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mustCreateUser(t, s, newUser(1))
	disabled := newUser(2)
	disabled.Disabled = true
	mustCreateUser(t, s, disabled)
	bare := mustCreateUser(t, s, store.User{ID: uuid.NewString(), Email: "bare@example.com", CreatedAt: at(time.Hour), UpdatedAt: at(time.Hour)})
	wantBare := stored(bare)
	wantBare.Metadata = json.RawMessage(`{}`)

	fresh := newSession(u.ID, 1)
	// A revoked session comes back all the same: the caller judges
	// liveness.
	revoked := newSession(u.ID, 2)
	revoked.RevokedAt = at(50 * time.Hour)
	revoked.AMR, revoked.AAL = []string{"pwd", "otp"}, "aal2"
	revoked.ParentHash, revoked.Generation = hash("revoked/0"), 1
	expired := newSession(disabled.ID, 3)
	expired.ExpiresAt = at(4 * time.Hour)
	nulls := newSession(bare.ID, 4)
	nulls.AMR, nulls.UserAgent, nulls.IP, nulls.AAL = nil, "", "", ""

	tests := []struct {
		name     string
		in       store.Session
		wantUser store.User
	}{
		{"fresh", fresh, stored(u)},
		{"revoked", revoked, stored(u)},
		{"expired, of a disabled user", expired, stored(disabled)},
		{"zero values of session and user", nulls, wantBare},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustCreateSession(t, s, tt.in)
			gotS, gotU, err := s.GetSessionWithUser(ctx, tt.in.ID)
			must(t, "GetSessionWithUser", err)
			diff(t, "session", gotS, stored(tt.in))
			diff(t, "user", gotU, tt.wantUser)
		})
	}

	// The session as UpdateSession left it, not as it was created.
	if _, err := s.UpdateSession(ctx, fresh.ID, rotate("fresh/1", at(2*time.Hour))); err != nil {
		t.Fatalf("UpdateSession: %v", err)
	}
	want := mustGet(t, "GetSession", s.GetSession, fresh.ID)
	got, _, err := s.GetSessionWithUser(ctx, fresh.ID)
	must(t, "GetSessionWithUser after UpdateSession", err)
	diff(t, "session after UpdateSession", got, want)

	for _, tt := range []struct{ name, id string }{
		{"unknown id", uuid.NewString()},
		{"malformed id", "nope"},
		{"a user's id", u.ID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.GetSessionWithUser(ctx, tt.id)
			wantErr(t, "GetSessionWithUser", err, store.ErrNotFound)
		})
	}

	// Deleting the user takes its sessions: neither half is left.
	must(t, "DeleteUser", s.DeleteUser(ctx, disabled.ID))
	_, _, err = s.GetSessionWithUser(ctx, expired.ID)
	wantErr(t, "GetSessionWithUser(session of a deleted user)", err, store.ErrNotFound)
}

func testUpdateSessionByRefreshHash(t *testing.T, s store.Store) {
	ctx := t.Context()
	u, orig := userWithSession(t, s)
	other := mustCreateSession(t, s, newSession(u.ID, 2))

	// By the live token: fn sees the session and its user, and a
	// rotation is saved and recorded as UpdateSession records it.
	var (
		seen     store.Session
		seenUser store.User
	)
	got, gotUser, err := s.UpdateSessionByRefreshHash(ctx, orig.RefreshHash, func(ss *store.Session, su store.User) error {
		seen, seenUser = *ss, su
		return rotate("byhash/1", at(2*time.Hour))(ss)
	})
	must(t, "UpdateSessionByRefreshHash", err)
	diff(t, "session seen by fn", seen, stored(orig))
	diff(t, "user seen by fn", seenUser, stored(u))
	diff(t, "user returned", gotUser, stored(u))
	want := stored(orig)
	want.ParentHash = orig.RefreshHash
	want.RefreshHash = hash("byhash/1")
	want.RotatedAt = at(2 * time.Hour).Truncate(time.Microsecond)
	want.LastActiveAt = want.RotatedAt
	want.Generation = 1
	diff(t, "UpdateSessionByRefreshHash result", got, want)
	reread, err := s.GetSessionByRefreshHash(ctx, hash("byhash/1"))
	must(t, "GetSessionByRefreshHash(new hash)", err)
	diff(t, "session found by the new hash", reread, want)

	// By an older token: the same session, as it is now.
	_, _, err = s.UpdateSessionByRefreshHash(ctx, orig.RefreshHash, func(ss *store.Session, _ store.User) error {
		seen = *ss
		ss.RevokedAt = at(3 * time.Hour)
		return nil
	})
	must(t, "UpdateSessionByRefreshHash(old hash)", err)
	diff(t, "session seen by fn through the old hash", seen, want)
	want.RevokedAt = at(3 * time.Hour).Truncate(time.Microsecond)

	// The cases' funcs leave the user alone: they are given the session.
	byHash := func(ctx context.Context, h []byte, fn func(*store.Session) error) (store.Session, error) {
		ss, _, err := s.UpdateSessionByRefreshHash(ctx, h, func(ss *store.Session, _ store.User) error { return fn(ss) })
		return ss, err
	}
	runFailedUpdates(t, "UpdateSessionByRefreshHash", byHash, []failedUpdate[[]byte, store.Session]{
		{"unknown hash", hash("unknown"), func(*store.Session) error { return nil }, store.ErrNotFound, false},
		{"empty hash", nil, func(*store.Session) error { return nil }, store.ErrNotFound, false},
		{"fn error after rotating", hash("byhash/1"), func(ss *store.Session) error {
			if err := rotate("never", at(4*time.Hour))(ss); err != nil {
				return err
			}
			return errBoom
		}, errBoom, true},
		{"rotation to another session's hash", hash("byhash/1"), func(ss *store.Session) error {
			ss.RefreshHash = other.RefreshHash
			return nil
		}, store.ErrAlreadyExists, true},
		{"id changed", hash("byhash/1"), func(ss *store.Session) error { ss.ID = uuid.NewString(); return nil }, nil, true},
	}, func(t *testing.T) { sessionUnchanged(t, s, orig.ID, want) })

	// Deleting the user takes its sessions and their tokens.
	must(t, "DeleteUser", s.DeleteUser(ctx, u.ID))
	_, _, err = s.UpdateSessionByRefreshHash(ctx, hash("byhash/1"), func(*store.Session, store.User) error { return nil })
	wantErr(t, "UpdateSessionByRefreshHash(session of a deleted user)", err, store.ErrNotFound)
}
