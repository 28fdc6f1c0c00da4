package storetest

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/latchauth/latch/internal/store"
)

func testUserRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	full := newUser(1)
	// A user who never signed in, has no password and no metadata: the
	// zero times must come back zero (NULL in the database) and the
	// metadata as the empty object.
	bare := store.User{
		ID:        uuid.NewString(),
		Email:     "bare@example.com",
		CreatedAt: at(time.Hour),
		UpdatedAt: at(time.Hour),
	}
	wantBare := stored(bare)
	wantBare.Metadata = json.RawMessage(`{}`)
	// An id in another accepted spelling is stored in canonical form.
	upper := newUser(2)
	canonical := upper.ID
	upper.ID = "{" + strings.ToUpper(canonical) + "}"
	wantUpper := stored(upper)
	wantUpper.ID = canonical
	disabled := newUser(3)
	disabled.Disabled, disabled.EmailVerified = true, false

	tests := []struct {
		name string
		in   store.User
		want store.User
	}{
		{"every field set", full, stored(full)},
		{"zero times and nil metadata", bare, wantBare},
		{"disabled and unverified", disabled, stored(disabled)},
		{"non-canonical id", upper, wantUpper},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			mustCreateUser(t, s, tt.in)
			got := mustGet(t, "GetUser", s.GetUser, want.ID)
			diff(t, "GetUser", got, want)
			got, err := s.GetUserByEmail(ctx, want.Email)
			must(t, "GetUserByEmail", err)
			diff(t, "GetUserByEmail", got, want)
		})
	}
}

func testCreateUserConflicts(t *testing.T, s store.Store) {
	ctx := t.Context()
	orig := mustCreateUser(t, s, newUser(1))

	sameID := newUser(2)
	sameID.ID = orig.ID
	sameEmail := newUser(3)
	sameEmail.Email = orig.Email
	tests := []struct {
		name string
		u    store.User
	}{
		{"same id", sameID},
		{"same email", sameEmail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.CreateUser(ctx, tt.u)
			wantErr(t, "CreateUser", err, store.ErrAlreadyExists)
		})
	}
	got := mustGet(t, "GetUser", s.GetUser, orig.ID)
	diff(t, "user after conflicts", got, stored(orig))
	if _, err := s.GetUserByEmail(ctx, sameID.Email); !isNotFound(err) {
		t.Errorf("GetUserByEmail of the refused user: got %v, want ErrNotFound", err)
	}
	if err := s.CreateUser(ctx, store.User{ID: "not-a-uuid", Email: "x@example.com", CreatedAt: t0, UpdatedAt: t0}); err == nil {
		t.Errorf("CreateUser with a non-UUID id: got nil error, want one")
	}
}

func testUserNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, newUser(1))
	wantNotFound(t, []lookup[store.User]{
		{"unknown id", func() (store.User, error) { return s.GetUser(ctx, uuid.NewString()) }},
		{"malformed id", func() (store.User, error) { return s.GetUser(ctx, "not-a-uuid") }},
		{"empty id", func() (store.User, error) { return s.GetUser(ctx, "") }},
		{"unknown email", func() (store.User, error) { return s.GetUserByEmail(ctx, "nobody@example.com") }},
		{"email in other case", func() (store.User, error) { return s.GetUserByEmail(ctx, "USER1@example.com") }},
	})
}

func testUpdateUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	orig := mustCreateUser(t, s, newUser(1))

	var seen store.User
	got, err := s.UpdateUser(ctx, orig.ID, func(u *store.User) error {
		seen = *u
		u.Email = "renamed@example.com"
		u.EmailVerified = false
		u.PasswordHash = ""
		u.Metadata = json.RawMessage(`{"theme":"dark"}`)
		u.Disabled = true
		u.UpdatedAt = at(time.Hour)
		u.LastSignInAt = time.Time{}
		u.PasswordChangedAt = at(2 * time.Hour)
		u.CredentialEpoch = 7
		return nil
	})
	must(t, "UpdateUser", err)
	diff(t, "user seen by fn", seen, stored(orig))

	want := stored(orig)
	want.Email = "renamed@example.com"
	want.EmailVerified = false
	want.PasswordHash = ""
	want.Metadata = json.RawMessage(`{"theme":"dark"}`)
	want.Disabled = true
	want.UpdatedAt = at(time.Hour).Truncate(time.Microsecond)
	want.LastSignInAt = time.Time{}
	want.PasswordChangedAt = at(2 * time.Hour).Truncate(time.Microsecond)
	want.CredentialEpoch = 7
	diff(t, "UpdateUser result", got, want)

	reread := mustGet(t, "GetUser", s.GetUser, orig.ID)
	diff(t, "GetUser after UpdateUser", reread, want)
	if _, err := s.GetUserByEmail(ctx, orig.Email); !isNotFound(err) {
		t.Errorf("GetUserByEmail(old email): got %v, want ErrNotFound", err)
	}

	// Nil metadata is saved as the empty object, like on create.
	got, err = s.UpdateUser(ctx, orig.ID, func(u *store.User) error { u.Metadata = nil; return nil })
	must(t, "UpdateUser(nil metadata)", err)
	diff(t, "metadata after nil", got.Metadata, json.RawMessage(`{}`))
}

func testUpdateUserErrors(t *testing.T, s store.Store) {
	orig, other := twoUsers(t, s)

	runFailedUpdates(t, "UpdateUser", s.UpdateUser, []failedUpdate[string, store.User]{
		{"unknown id", uuid.NewString(), func(*store.User) error { return nil }, store.ErrNotFound, false},
		{"malformed id", "nope", func(*store.User) error { return nil }, store.ErrNotFound, false},
		{"email taken", orig.ID, func(u *store.User) error { u.Email = other.Email; return nil }, store.ErrAlreadyExists, true},
		{"fn error", orig.ID, func(u *store.User) error {
			u.Email = "changed@example.com"
			u.Disabled = true
			return errBoom
		}, errBoom, true},
		{"id changed", orig.ID, func(u *store.User) error { u.ID = uuid.NewString(); return nil }, nil, true},
		{"invalid metadata", orig.ID, func(u *store.User) error { u.Metadata = json.RawMessage(`{"a":`); return nil }, nil, true},
	}, func(t *testing.T) {
		got := mustGet(t, "GetUser", s.GetUser, orig.ID)
		diff(t, "user after failed update", got, stored(orig))
	})
}

func testDeleteUserCascades(t *testing.T, s store.Store) {
	ctx := t.Context()
	doomed, kept := twoUsers(t, s)
	s1 := mustCreateSession(t, s, newSession(doomed.ID, 1))
	s2 := mustCreateSession(t, s, newSession(doomed.ID, 2))
	s3 := mustCreateSession(t, s, newSession(kept.ID, 3))
	if _, err := s.UpdateSession(ctx, s1.ID, rotate("s1/1", at(time.Hour))); err != nil {
		t.Fatalf("UpdateSession: %v", err)
	}
	// One-time tokens, used or not, go with their user; queued mail
	// naming the user stays, as it references nothing.
	doomedTokens := []store.OneTimeToken{
		mustCreateToken(t, s, newToken(doomed, store.PurposeVerify, 1)),
		mustCreateToken(t, s, newToken(doomed, store.PurposeEmailChange, 2)),
	}
	if _, err := s.UpdateOneTimeToken(ctx, doomedTokens[1].ID, func(x *store.OneTimeToken) error {
		x.UsedAt = at(time.Hour)
		return nil
	}); err != nil {
		t.Fatalf("UpdateOneTimeToken: %v", err)
	}
	keptToken := mustCreateToken(t, s, newToken(kept, store.PurposeVerify, 3))
	mail := mailModel{mustEnqueue(t, s, newMail(1, doomed.ID)), mustEnqueue(t, s, newMail(2, kept.ID))}

	must(t, "DeleteUser", s.DeleteUser(ctx, doomed.ID))
	for _, tok := range doomedTokens {
		if _, _, err := peek(t, s, tok.Hash); !isNotFound(err) {
			t.Errorf("UseOneTimeToken(token of deleted user): got %v, want ErrNotFound", err)
		}
		if _, err := s.UpdateOneTimeToken(ctx, tok.ID, func(*store.OneTimeToken) error { return nil }); !isNotFound(err) {
			t.Errorf("UpdateOneTimeToken(token of deleted user): got %v, want ErrNotFound", err)
		}
	}
	if list, err := s.ListOneTimeTokens(ctx, doomed.ID, store.PurposeVerify); err != nil || list != nil {
		t.Errorf("ListOneTimeTokens(deleted user) = %d tokens, %v; want nil, nil", len(list), err)
	}
	if got, _, err := peek(t, s, keptToken.Hash); err != nil {
		t.Errorf("UseOneTimeToken(other user's token): %v", err)
	} else {
		diff(t, "other user's token", got, keptToken)
	}
	now := at(100 * time.Hour)
	claimed, err := s.ClaimMail(ctx, now, now.Add(time.Hour), 100)
	must(t, "ClaimMail", err)
	diff(t, "mail after DeleteUser", claimed, mail.claim(now, now.Add(time.Hour), 100))
	err = s.CreateOneTimeToken(ctx, newToken(doomed, store.PurposeRecover, 4))
	wantErr(t, "CreateOneTimeToken(deleted user)", err, store.ErrNotFound)
	if _, err := s.GetUser(ctx, doomed.ID); !isNotFound(err) {
		t.Errorf("GetUser(deleted): got %v, want ErrNotFound", err)
	}
	if _, err := s.GetUserByEmail(ctx, doomed.Email); !isNotFound(err) {
		t.Errorf("GetUserByEmail(deleted): got %v, want ErrNotFound", err)
	}
	for _, id := range []string{s1.ID, s2.ID} {
		if _, err := s.GetSession(ctx, id); !isNotFound(err) {
			t.Errorf("GetSession(session of deleted user): got %v, want ErrNotFound", err)
		}
	}
	for _, h := range [][]byte{s1.RefreshHash, hash("s1/1"), s2.RefreshHash} {
		if _, err := s.GetSessionByRefreshHash(ctx, h); !isNotFound(err) {
			t.Errorf("GetSessionByRefreshHash(token of deleted user): got %v, want ErrNotFound", err)
		}
	}
	// The user's email is free again.
	again := newUser(3)
	again.Email = doomed.Email
	if err := s.CreateUser(ctx, again); err != nil {
		t.Errorf("CreateUser with the deleted user's email: %v", err)
	}

	got, err := s.GetSessionByRefreshHash(ctx, s3.RefreshHash)
	must(t, "GetSessionByRefreshHash(other user's session)", err)
	diff(t, "other user's session", got, stored(s3))

	wantErr(t, "DeleteUser(deleted)", s.DeleteUser(ctx, doomed.ID), store.ErrNotFound)
	wantErr(t, "DeleteUser(malformed)", s.DeleteUser(ctx, "nope"), store.ErrNotFound)
}

func testListUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	if got, err := s.ListUsers(ctx, store.ListUsersOptions{}); err != nil || len(got) != 0 {
		t.Fatalf("ListUsers(empty store) = %d users, %v; want 0, nil", len(got), err)
	}

	// Created out of order, and two at the same instant: the order is by
	// creation time, then id.
	var want []store.User
	for _, n := range []int{5, 1, 4, 2, 3} {
		want = append(want, newUser(n))
	}
	twin := newUser(6)
	twin.CreatedAt = want[0].CreatedAt
	want = append(want, twin)
	for _, u := range want {
		mustCreateUser(t, s, u)
	}
	sortUsers(want)
	for i := range want {
		want[i] = stored(want[i])
	}

	all, err := s.ListUsers(ctx, store.ListUsersOptions{})
	must(t, "ListUsers", err)
	diff(t, "ListUsers (no limit)", all, want)

	for _, limit := range []int{1, 2, 4, 6, 7} {
		got := pageThrough(t, "ListUsers", limit, len(want), func(last *store.User) ([]store.User, error) {
			opts := store.ListUsersOptions{Limit: limit}
			if last != nil {
				opts.After = last.ID
			}
			return s.ListUsers(ctx, opts)
		})
		diff(t, "pages with limit "+strconv.Itoa(limit), got, want)
	}

	_, err = s.ListUsers(ctx, store.ListUsersOptions{After: uuid.NewString()})
	wantErr(t, "ListUsers(after unknown user)", err, store.ErrNotFound)
}

// sortUsers sorts in the order ListUsers promises.
func sortUsers(us []store.User) {
	slices.SortFunc(us, func(a, b store.User) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}
