package storetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/latchauth/latch/internal/store"
)

// The social identities linked to users, the ID-token nonces, and the
// provider a session signed in with.

// newIdentity returns an identity of the user at provider github with
// every field set, unique by n; its email is spelled as a provider may
// give it, not normalised.
func newIdentity(userID string, n int) store.Identity {
	return store.Identity{
		ID:           uuid.NewString(),
		UserID:       userID,
		Provider:     "github",
		Subject:      fmt.Sprint(1000 + n),
		Email:        fmt.Sprintf("Person%d@Example.COM", n),
		CreatedAt:    at(time.Duration(n) * time.Minute),
		LastSignInAt: at(time.Duration(n)*time.Minute + time.Second),
	}
}

// mustAttach attaches i to its user, changing nothing else, or stops the
// test; it returns i as stored.
func mustAttach(t *testing.T, s store.Store, i store.Identity) store.Identity {
	t.Helper()
	if _, err := s.AttachIdentity(t.Context(), i, nil); err != nil {
		t.Fatalf("AttachIdentity: %v", err)
	}
	return stored(i)
}

// linked is u as stored, with n identities (the count the store keeps).
func linked(u store.User, n int) store.User {
	u = stored(u)
	u.Identities = n
	return u
}

// wantIdentities fails unless the user's identities are want, in order.
func wantIdentities(t *testing.T, s store.Store, what, userID string, want ...store.Identity) {
	t.Helper()
	got, err := s.ListIdentities(t.Context(), userID)
	if err != nil {
		t.Fatalf("%s: ListIdentities: %v", what, err)
	}
	diff(t, what+": ListIdentities", got, want)
}

// wantNoIdentity fails unless no identity has this provider and subject.
func wantNoIdentity(t *testing.T, s store.Store, what, provider, subject string) {
	t.Helper()
	_, err := s.GetIdentity(t.Context(), provider, subject)
	wantErr(t, what+": GetIdentity", err, store.ErrNotFound)
}

func testIdentityRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := newUser(1)
	// Never used to sign in since it was linked: the zero time comes back
	// zero.
	first := newIdentity(u.ID, 1)
	first.LastSignInAt = time.Time{}
	must(t, "CreateUserWithIdentity", s.CreateUserWithIdentity(ctx, u, first))
	diff(t, "GetUser", mustGet(t, "GetUser", s.GetUser, u.ID), linked(u, 1))
	got, err := s.GetIdentity(ctx, first.Provider, first.Subject)
	must(t, "GetIdentity", err)
	diff(t, "GetIdentity", got, stored(first))

	// Ids in another spelling are stored in canonical form; an identity
	// linked later but created earlier lists first.
	earlier := newIdentity(u.ID, 2)
	earlier.CreatedAt = at(-time.Hour)
	wantEarlier := stored(earlier)
	earlier.ID, earlier.UserID = strings.ToUpper(earlier.ID), "{"+strings.ToUpper(u.ID)+"}"
	gotUser, err := s.AttachIdentity(ctx, earlier, nil)
	must(t, "AttachIdentity(nil fn)", err)
	diff(t, "AttachIdentity(nil fn): user", gotUser, linked(u, 2))
	// The pair is unique, not the subject alone.
	elsewhere := newIdentity(u.ID, 3)
	elsewhere.Provider, elsewhere.Subject, elsewhere.Email = "google_work", first.Subject, ""
	wantElsewhere := mustAttach(t, s, elsewhere)

	wantIdentities(t, s, "three identities", u.ID, wantEarlier, stored(first), wantElsewhere)
	got, err = s.GetIdentity(ctx, "google_work", first.Subject)
	must(t, "GetIdentity(google_work)", err)
	diff(t, "GetIdentity(same subject, other provider)", got, wantElsewhere)

	for _, c := range []struct{ name, provider, subject string }{
		{"unknown subject", "github", "999"},
		{"unknown provider", "gitlab", first.Subject},
		{"empty", "", ""},
	} {
		wantNoIdentity(t, s, c.name, c.provider, c.subject)
	}
	for _, id := range []string{uuid.NewString(), "nope", ""} {
		wantIdentities(t, s, fmt.Sprintf("user %q", id), id)
	}
}

func testCreateUserWithIdentityConflicts(t *testing.T, s store.Store) {
	ctx := t.Context()
	existing := newUser(1)
	taken := newIdentity(existing.ID, 1)
	must(t, "CreateUserWithIdentity", s.CreateUserWithIdentity(ctx, existing, taken))
	wantExisting := linked(existing, 1)
	wantTaken := stored(taken)

	tests := []struct {
		name   string
		change func(*store.User, *store.Identity)
		want   error // nil: any error will do
	}{
		{"user id taken", func(u *store.User, i *store.Identity) { u.ID, i.UserID = existing.ID, existing.ID }, store.ErrAlreadyExists},
		{"email taken", func(u *store.User, _ *store.Identity) { u.Email = existing.Email }, store.ErrAlreadyExists},
		{"identity id taken", func(_ *store.User, i *store.Identity) { i.ID = taken.ID }, store.ErrAlreadyExists},
		{"provider and subject taken", func(_ *store.User, i *store.Identity) { i.Subject = taken.Subject }, store.ErrAlreadyExists},
		{"identity of another user", func(_ *store.User, i *store.Identity) { i.UserID = existing.ID }, nil},
		{"malformed identity id", func(_ *store.User, i *store.Identity) { i.ID = "nope" }, store.ErrInvalidID},
		{"malformed user id", func(u *store.User, i *store.Identity) { u.ID, i.UserID = "nope", "nope" }, nil},
		{"empty subject", func(_ *store.User, i *store.Identity) { i.Subject = "" }, nil},
		{"provider not an id", func(_ *store.User, i *store.Identity) { i.Provider = "Git Hub" }, nil},
		{"zero creation time", func(_ *store.User, i *store.Identity) { i.CreatedAt = time.Time{} }, nil},
	}
	for n, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUser(10 + n)
			i := newIdentity(u.ID, 10+n)
			tt.change(&u, &i)
			err := s.CreateUserWithIdentity(ctx, u, i)
			wantFailure(t, "CreateUserWithIdentity", err, tt.want)
			// Neither the user nor the identity was written.
			checkNoUser(t, s, u, existing)
			if i.Subject != taken.Subject {
				wantNoIdentity(t, s, "refused identity", i.Provider, i.Subject)
			}
			diff(t, "existing user", mustGet(t, "GetUser", s.GetUser, existing.ID), wantExisting)
			wantIdentities(t, s, "existing user", existing.ID, wantTaken)
		})
	}
}

func testAttachIdentity(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mustCreateUser(t, s, newUser(1))
	i := newIdentity(u.ID, 1)
	// Linking an unverified account takes its password: the user's change
	// and the link commit together.
	var seen store.User
	got, err := s.AttachIdentity(ctx, i, func(x *store.User) error {
		seen = *x
		x.PasswordHash = ""
		x.CredentialEpoch++
		x.UpdatedAt = at(time.Hour)
		return nil
	})
	must(t, "AttachIdentity", err)
	diff(t, "user fn saw", seen, stored(u))
	want := linked(u, 1)
	want.PasswordHash, want.CredentialEpoch, want.UpdatedAt = "", 1, at(time.Hour).Truncate(micro)
	diff(t, "AttachIdentity: user", got, want)
	diff(t, "GetUser after AttachIdentity", mustGet(t, "GetUser", s.GetUser, u.ID), want)
	wantIdentities(t, s, "after AttachIdentity", u.ID, stored(i))
	// The user's new epoch is what a session must now be made under.
	stale := newSession(u.ID, 1)
	wantErr(t, "CreateSession(epoch before AttachIdentity)", s.CreateSession(ctx, stale), store.ErrStale)
}

func testAttachIdentityErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mustCreateUser(t, s, newUser(1))
	mine := mustAttach(t, s, newIdentity(u.ID, 1))
	other := mustCreateUser(t, s, newUser(2))
	theirs := mustAttach(t, s, newIdentity(other.ID, 2))
	wantUser, wantOther := linked(u, 1), linked(other, 1)

	// clear changes the user as a link may; none of it must be saved.
	clear := func(x *store.User) error {
		x.PasswordHash = ""
		x.CredentialEpoch++
		return nil
	}
	tests := []struct {
		name   string
		change func(*store.Identity)
		fn     func(*store.User) error
		want   error // nil: any error will do
		called bool  // whether fn must have run
	}{
		{"unknown user", func(i *store.Identity) { i.UserID = uuid.NewString() }, clear, store.ErrNotFound, false},
		{"malformed user id", func(i *store.Identity) { i.UserID = "nope" }, clear, store.ErrNotFound, false},
		{"malformed id", func(i *store.Identity) { i.ID = "nope" }, clear, store.ErrInvalidID, false},
		{"fn error", nil, func(x *store.User) error {
			x.PasswordHash = ""
			return errBoom
		}, errBoom, true},
		{"provider and subject taken by this user", func(i *store.Identity) { i.Subject = mine.Subject }, clear, store.ErrAlreadyExists, true},
		{"provider and subject taken by another user", func(i *store.Identity) { i.Subject = theirs.Subject }, clear, store.ErrAlreadyExists, true},
		{"id taken", func(i *store.Identity) { i.ID = theirs.ID }, clear, store.ErrAlreadyExists, true},
		{"fn takes a taken email", nil, func(x *store.User) error {
			x.Email = other.Email
			return nil
		}, store.ErrAlreadyExists, true},
		{"fn changes the user id", nil, func(x *store.User) error {
			x.ID = uuid.NewString()
			return nil
		}, nil, true},
		{"empty subject", func(i *store.Identity) { i.Subject = "" }, clear, nil, false},
	}
	for n, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i := newIdentity(u.ID, 10+n)
			if tt.change != nil {
				tt.change(&i)
			}
			called := false
			_, err := s.AttachIdentity(ctx, i, func(x *store.User) error {
				called = true
				return tt.fn(x)
			})
			wantFailure(t, "AttachIdentity", err, tt.want)
			if called != tt.called {
				t.Errorf("fn called = %v, want %v", called, tt.called)
			}
			diff(t, "user after a refused AttachIdentity", mustGet(t, "GetUser", s.GetUser, u.ID), wantUser)
			diff(t, "other user after a refused AttachIdentity", mustGet(t, "GetUser", s.GetUser, other.ID), wantOther)
			wantIdentities(t, s, "user after a refused AttachIdentity", u.ID, mine)
			wantIdentities(t, s, "other user after a refused AttachIdentity", other.ID, theirs)
			if i.Subject != mine.Subject && i.Subject != theirs.Subject {
				wantNoIdentity(t, s, "refused identity", i.Provider, i.Subject)
			}
		})
	}
}

func testUpdateIdentity(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mustCreateUser(t, s, newUser(1))
	i := mustAttach(t, s, newIdentity(u.ID, 1))

	// Only Email and LastSignInAt are saved.
	var seen store.Identity
	got, err := s.UpdateIdentity(ctx, strings.ToUpper(i.ID), func(x *store.Identity) error {
		seen = *x
		x.Email = "renamed@example.org"
		x.LastSignInAt = at(5 * time.Hour)
		x.Provider, x.Subject, x.UserID, x.CreatedAt = "google", "other", uuid.NewString(), at(9*time.Hour)
		return nil
	})
	must(t, "UpdateIdentity", err)
	diff(t, "identity fn saw", seen, i)
	want := i
	want.Email, want.LastSignInAt = "renamed@example.org", at(5*time.Hour).Truncate(micro)
	diff(t, "UpdateIdentity", got, want)
	wantIdentities(t, s, "after UpdateIdentity", u.ID, want)

	// A zero time is stored as such.
	got, err = s.UpdateIdentity(ctx, i.ID, func(x *store.Identity) error {
		x.LastSignInAt, x.Email = time.Time{}, ""
		return nil
	})
	want.LastSignInAt, want.Email = time.Time{}, ""
	must(t, "UpdateIdentity(zero time)", err)
	diff(t, "UpdateIdentity(zero time)", got, want)

	_, err = s.UpdateIdentity(ctx, i.ID, func(x *store.Identity) error {
		x.Email = "lost@example.org"
		return errBoom
	})
	wantErr(t, "UpdateIdentity(fn error)", err, errBoom)
	for _, id := range []string{uuid.NewString(), "nope"} {
		_, err := s.UpdateIdentity(ctx, id, func(*store.Identity) error {
			t.Errorf("UpdateIdentity(%q) called fn", id)
			return nil
		})
		wantErr(t, fmt.Sprintf("UpdateIdentity(%q)", id), err, store.ErrNotFound)
	}
	wantIdentities(t, s, "after refused updates", u.ID, want)
}

func testDeleteUserCascadesIdentities(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mustCreateUser(t, s, newUser(1))
	a := mustAttach(t, s, newIdentity(u.ID, 1))
	b := mustAttach(t, s, newIdentity(u.ID, 2))
	other := mustCreateUser(t, s, newUser(3))
	kept := mustAttach(t, s, newIdentity(other.ID, 3))
	must(t, "DeleteUser", s.DeleteUser(ctx, u.ID))
	for _, i := range []store.Identity{a, b} {
		wantNoIdentity(t, s, "identity of a deleted user", i.Provider, i.Subject)
	}
	wantIdentities(t, s, "deleted user", u.ID)
	wantIdentities(t, s, "other user", other.ID, kept)
	if _, err := s.UpdateIdentity(ctx, a.ID, func(*store.Identity) error { return nil }); !isNotFound(err) {
		t.Errorf("UpdateIdentity(identity of a deleted user): got %v, want ErrNotFound", err)
	}
	// The pair is free again.
	mustAttach(t, s, newIdentity(other.ID, 1))
}

func testDetachIdentity(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mustCreateUser(t, s, newUser(1))
	a := mustAttach(t, s, newIdentity(u.ID, 1))
	b := mustAttach(t, s, newIdentity(u.ID, 2))
	c := mustAttach(t, s, newIdentity(u.ID, 3))
	other := mustCreateUser(t, s, newUser(4))
	theirs := mustAttach(t, s, newIdentity(other.ID, 4))

	var (
		seenUser      store.User
		seenRemaining []store.Identity
	)
	record := func(x store.User, remaining []store.Identity) error {
		seenUser, seenRemaining = x, remaining
		return nil
	}
	must(t, "DetachIdentity", s.DetachIdentity(ctx, strings.ToUpper(u.ID), strings.ToUpper(b.ID), record))
	diff(t, "user fn saw", seenUser, linked(u, 3))
	diff(t, "remaining identities fn saw", seenRemaining, []store.Identity{a, c})
	diff(t, "user after DetachIdentity", mustGet(t, "GetUser", s.GetUser, u.ID), linked(u, 2))
	wantIdentities(t, s, "after DetachIdentity", u.ID, a, c)
	wantNoIdentity(t, s, "detached identity", b.Provider, b.Subject)

	// fn refuses: the identity stays.
	err := s.DetachIdentity(ctx, u.ID, a.ID, func(store.User, []store.Identity) error { return errBoom })
	wantErr(t, "DetachIdentity(fn error)", err, errBoom)
	wantIdentities(t, s, "after a refused DetachIdentity", u.ID, a, c)

	for _, tt := range []struct{ name, userID, id string }{
		{"already detached", u.ID, b.ID},
		{"another user's identity", u.ID, theirs.ID},
		{"unknown identity", u.ID, uuid.NewString()},
		{"unknown user", uuid.NewString(), a.ID},
		{"malformed user id", "nope", a.ID},
		{"malformed id", u.ID, "nope"},
	} {
		err := s.DetachIdentity(ctx, tt.userID, tt.id, func(store.User, []store.Identity) error {
			t.Errorf("%s: DetachIdentity called fn", tt.name)
			return nil
		})
		wantErr(t, "DetachIdentity("+tt.name+")", err, store.ErrNotFound)
	}
	wantIdentities(t, s, "after DetachIdentity of others' identities", u.ID, a, c)
	wantIdentities(t, s, "other user", other.ID, theirs)

	// The last one: fn sees none remaining.
	must(t, "DetachIdentity(c)", s.DetachIdentity(ctx, u.ID, c.ID, record))
	must(t, "DetachIdentity(last)", s.DetachIdentity(ctx, u.ID, a.ID, record))
	if len(seenRemaining) != 0 {
		t.Errorf("DetachIdentity(last): fn saw %d remaining, want 0", len(seenRemaining))
	}
	wantIdentities(t, s, "after detaching every identity", u.ID)
}

func testClaimNonce(t *testing.T, s store.Store) {
	ctx := t.Context()
	h := hash("nonce/1")
	steps := []struct {
		name         string
		now, expires time.Time
		want         error
	}{
		{"first claim", at(0), at(10 * time.Minute), nil},
		{"again", at(time.Minute), at(11 * time.Minute), store.ErrAlreadyExists},
		{"a microsecond before expiry", at(10*time.Minute - micro), at(20 * time.Minute), store.ErrAlreadyExists},
		{"at expiry", at(10 * time.Minute), at(20 * time.Minute), nil},
		{"before the new expiry", at(15 * time.Minute), at(30 * time.Minute), store.ErrAlreadyExists},
		{"after the new expiry", at(21 * time.Minute), at(31 * time.Minute), nil},
	}
	for _, st := range steps {
		err := s.ClaimNonce(ctx, h, st.now, st.expires)
		if st.want == nil && err != nil {
			t.Errorf("ClaimNonce(%s): %v", st.name, err)
		} else if st.want != nil {
			wantErr(t, "ClaimNonce("+st.name+")", err, st.want)
		}
	}
	if err := s.ClaimNonce(ctx, hash("nonce/2"), at(0), at(time.Hour)); err != nil {
		t.Errorf("ClaimNonce(another nonce): %v", err)
	}
	if err := s.ClaimNonce(ctx, nil, at(0), at(time.Hour)); err == nil {
		t.Errorf("ClaimNonce(empty hash): got nil, want an error")
	}
	if err := s.ClaimNonce(ctx, hash("nonce/3"), at(0), time.Time{}); err == nil {
		t.Errorf("ClaimNonce(zero expiry): got nil, want an error")
	}
}

func testDeleteNoncesBefore(t *testing.T, s store.Store) {
	ctx := t.Context()
	cut := at(24 * time.Hour)
	cases := []struct {
		name    string
		expires time.Time
		gone    bool
	}{
		{"expired a microsecond before", cut.Add(-micro), true},
		{"expiring at the cut-off", cut, false},
		{"expiring a microsecond after", cut.Add(micro), false},
		// More than a batch of the backends' tests.
		{"expired long ago 1", at(time.Hour), true},
		{"expired long ago 2", at(2 * time.Hour), true},
		{"expired long ago 3", at(3 * time.Hour), true},
		{"expired long ago 4", at(4 * time.Hour), true},
	}
	var want int64
	for i, c := range cases {
		if err := s.ClaimNonce(ctx, hash(fmt.Sprint("nonce/", i)), at(0), c.expires); err != nil {
			t.Fatalf("%s: ClaimNonce: %v", c.name, err)
		}
		if c.gone {
			want++
		}
	}
	wantDeleted(t, "DeleteNoncesBefore(zero time)", s.DeleteNoncesBefore, time.Time{}, 0)
	wantDeleted(t, "DeleteNoncesBefore", s.DeleteNoncesBefore, cut, want)
	// A claim at a time before every expiry succeeds only for a nonce
	// that is gone.
	for i, c := range cases {
		err := s.ClaimNonce(ctx, hash(fmt.Sprint("nonce/", i)), at(-time.Hour), at(48*time.Hour))
		switch {
		case c.gone && err != nil:
			t.Errorf("%s: ClaimNonce after deletion: %v", c.name, err)
		case !c.gone && !errors.Is(err, store.ErrAlreadyExists):
			t.Errorf("%s: ClaimNonce of a kept nonce: got %v, want ErrAlreadyExists", c.name, err)
		}
	}
}

// testSessionIDP: the provider a session signed in with goes through
// every session read and write; UpdateSession may change it.
func testSessionIDP(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := newUser(1)
	ss := newSession(u.ID, 1)
	ss.IDP = "google"
	must(t, "CreateUserWithSession", s.CreateUserWithSession(ctx, u, ss))
	own := newSession(u.ID, 2)
	own.IDP = ""
	mustCreateSession(t, s, own)
	want := stored(ss)
	diff(t, "GetSession", mustGet(t, "GetSession", s.GetSession, ss.ID), want)
	got, _, err := s.GetSessionWithUser(ctx, ss.ID)
	must(t, "GetSessionWithUser", err)
	diff(t, "GetSessionWithUser", got, want)
	got, err = s.GetSessionByRefreshHash(ctx, ss.RefreshHash)
	must(t, "GetSessionByRefreshHash", err)
	diff(t, "GetSessionByRefreshHash", got, want)
	list, err := s.ListSessions(ctx, u.ID)
	must(t, "ListSessions", err)
	diff(t, "ListSessions", list, []store.Session{stored(own), want})

	// A rotation keeps it; a rotation that changes it saves it.
	got, err = s.UpdateSession(ctx, ss.ID, rotate("idp/1", at(2*time.Hour)))
	if err != nil || got.IDP != "google" {
		t.Errorf("UpdateSession(rotation) = IDP %q, %v; want google, nil", got.IDP, err)
	}
	got, err = s.UpdateSession(ctx, ss.ID, func(x *store.Session) error {
		x.IDP = "github"
		return rotate("idp/2", at(3*time.Hour))(x)
	})
	if err != nil || got.IDP != "github" {
		t.Errorf("UpdateSession(rotation, new IDP) = IDP %q, %v; want github, nil", got.IDP, err)
	}
	got, _, err = s.UpdateSessionByRefreshHash(ctx, hash("idp/2"), func(x *store.Session, _ store.User) error {
		x.IDP = ""
		return nil
	})
	if err != nil || got.IDP != "" {
		t.Errorf("UpdateSessionByRefreshHash(no IDP) = IDP %q, %v; want \"\", nil", got.IDP, err)
	}
	if got := mustGet(t, "GetSession", s.GetSession, ss.ID); got.IDP != "" {
		t.Errorf("GetSession after clearing the IDP = %q, want \"\"", got.IDP)
	}
}

// errLastWay is what the funcs of testDetachRace return to refuse to
// leave a user without a way in.
var errLastWay = errors.New("storetest: the last identity")

// testDetachRace: two detaches at once of a user's two identities, each
// refusing to leave none: exactly one succeeds, the other sees what the
// first left and refuses.
func testDetachRace(t *testing.T, stores []store.Store) {
	ctx := t.Context()
	for round := range 8 {
		u := mustCreateUser(t, stores[0], newUser(700+round))
		ids := []store.Identity{
			mustAttach(t, stores[0], newIdentity(u.ID, 700+2*round)),
			mustAttach(t, stores[0], newIdentity(u.ID, 701+2*round)),
		}
		won := raceToWin(t, stores, 2, fmt.Sprintf("round %d: DetachIdentity", round), errLastWay, func(i int, st store.Store) error {
			return st.DetachIdentity(ctx, u.ID, ids[i].ID, func(_ store.User, remaining []store.Identity) error {
				if len(remaining) == 0 {
					return errLastWay
				}
				return nil
			})
		})
		if won < 0 {
			continue
		}
		wantIdentities(t, stores[0], fmt.Sprintf("round %d", round), u.ID, ids[1-won])
	}
}

// testAttachRace: the same provider identity attached at once to two
// users, each attach also taking the user's password: exactly one wins,
// and the loser's user keeps its password.
func testAttachRace(t *testing.T, stores []store.Store) {
	ctx := t.Context()
	for round := range 8 {
		users := []store.User{
			mustCreateUser(t, stores[0], newUser(800+2*round)),
			mustCreateUser(t, stores[0], newUser(801+2*round)),
		}
		won := raceToWin(t, stores, 2, fmt.Sprintf("round %d: AttachIdentity", round), store.ErrAlreadyExists, func(i int, st store.Store) error {
			_, err := st.AttachIdentity(ctx, newIdentity(users[i].ID, 800+round), func(x *store.User) error {
				x.PasswordHash = ""
				x.CredentialEpoch++
				return nil
			})
			return err
		})
		if won < 0 {
			continue
		}
		probe := newIdentity("", 800+round)
		got, err := stores[0].GetIdentity(ctx, probe.Provider, probe.Subject)
		if err != nil || got.UserID != users[won].ID {
			t.Errorf("round %d: GetIdentity = user %s, %v; want the winner %s", round, got.UserID, err, users[won].ID)
		}
		loser := mustGet(t, "GetUser", stores[0].GetUser, users[1-won].ID)
		diff(t, fmt.Sprintf("round %d: the loser's user", round), loser, stored(users[1-won]))
		wantIdentities(t, stores[0], fmt.Sprintf("round %d: the loser", round), users[1-won].ID)
	}
}
