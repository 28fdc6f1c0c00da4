package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/latchauth/latch/internal/store"
)

// Users' second factors: authenticator apps, passkeys and recovery codes.

// newFactor returns a pending factor of the user, of type typ, created
// at t0 plus n minutes: every field a pending factor has is set, the
// others (CredentialID, Counter, VerifiedAt, LastUsedAt) are zero.
func newFactor(userID string, typ store.FactorType, n int) store.Factor {
	return store.Factor{
		ID:        uuid.NewString(),
		UserID:    userID,
		Type:      typ,
		Name:      fmt.Sprintf("Factor %d", n),
		Secret:    []byte(fmt.Sprintf("sealed-%d\x00\xff", n)),
		CreatedAt: at(time.Duration(n) * time.Minute),
	}
}

// verified returns f as a verified factor with every field set: verified
// a minute after its creation, used a minute later, counter 7 and, for a
// passkey, a credential id of its own.
func verified(f store.Factor) store.Factor {
	f.VerifiedAt = f.CreatedAt.Add(time.Minute)
	f.LastUsedAt = f.CreatedAt.Add(2 * time.Minute)
	f.Counter = 7
	if f.Type == store.FactorWebAuthn {
		f.CredentialID = credential(f.ID)
	}
	return f
}

// credential returns a WebAuthn credential id unique by name.
func credential(name string) []byte { return hash("credential/" + name) }

// mustCreateFactor creates f or stops the test; it returns f as stored.
func mustCreateFactor(t *testing.T, s store.Store, f store.Factor) store.Factor {
	t.Helper()
	must(t, "CreateFactor", s.CreateFactor(t.Context(), f))
	return stored(f)
}

// wantFactors fails unless the user's factors are want, in order.
func wantFactors(t *testing.T, s store.Store, what, userID string, want ...store.Factor) {
	t.Helper()
	got, err := s.ListFactors(t.Context(), userID)
	if err != nil {
		t.Fatalf("%s: ListFactors: %v", what, err)
	}
	diff(t, what+": ListFactors", got, want)
}

// wantFactor fails unless the factor with want's id is want.
func wantFactor(t *testing.T, s store.Store, what string, want store.Factor) {
	t.Helper()
	got, err := s.GetFactor(t.Context(), want.ID)
	if err != nil {
		t.Errorf("%s: GetFactor: %v", what, err)
		return
	}
	diff(t, what+": GetFactor", got, want)
}

// wantNoFactor fails unless no factor has this id and, if credentialID
// is not empty, none has this credential id.
func wantNoFactor(t *testing.T, s store.Store, what, id string, credentialID []byte) {
	t.Helper()
	_, err := s.GetFactor(t.Context(), id)
	wantErr(t, what+": GetFactor", err, store.ErrNotFound)
	if len(credentialID) > 0 {
		_, err := s.GetFactorByCredential(t.Context(), credentialID)
		wantErr(t, what+": GetFactorByCredential", err, store.ErrNotFound)
	}
}

// byCreation sorts factors as ListFactors lists them: oldest first, ties
// broken by id.
func byCreation(factors []store.Factor) []store.Factor {
	slices.SortFunc(factors, func(a, b store.Factor) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return factors
}

func testFactorRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	u, other := twoUsers(t, s)

	// Pending: no credential id, counter 0, zero times.
	app := newFactor(u.ID, store.FactorTOTP, 1)
	// Verified, every field set.
	key := verified(newFactor(u.ID, store.FactorWebAuthn, 2))
	// A pending passkey holds its registration challenge, no credential.
	pendingKey := newFactor(u.ID, store.FactorWebAuthn, 3)
	// Recovery codes all spent: an empty secret comes back nil.
	codes := verified(newFactor(u.ID, store.FactorRecovery, 4))
	codes.Secret = []byte{}
	wantCodes := stored(codes)
	wantCodes.Secret = nil
	// No name, no secret, a counter near the limit.
	bare := newFactor(u.ID, store.FactorTOTP, 5)
	bare.Name, bare.Secret, bare.Counter = "", nil, 1<<62
	// Created after the others but dated before them: it lists first.
	// Its ids in another spelling are stored in canonical form.
	early := verified(newFactor(u.ID, store.FactorWebAuthn, -10))
	wantEarly := stored(early)
	early.ID, early.UserID = strings.ToUpper(early.ID), "{"+strings.ToUpper(u.ID)+"}"
	// Two created at the same moment list by id.
	tieA, tieB := newFactor(u.ID, store.FactorTOTP, 20), verified(newFactor(u.ID, store.FactorRecovery, 20))
	theirs := verified(newFactor(other.ID, store.FactorWebAuthn, 6))

	want := map[string]store.Factor{}
	for _, f := range []store.Factor{app, key, pendingKey, codes, bare, early, tieA, tieB, theirs} {
		got := mustCreateFactor(t, s, f)
		want[strings.ToLower(f.ID)] = got
	}
	want[codes.ID], want[wantEarly.ID] = wantCodes, wantEarly

	for id, f := range want {
		wantFactor(t, s, "created", f)
		got, err := s.GetFactor(ctx, strings.ToUpper(id))
		must(t, "GetFactor(id in capitals)", err)
		diff(t, "GetFactor(id in capitals)", got, f)
		if f.CredentialID != nil {
			got, err := s.GetFactorByCredential(ctx, f.CredentialID)
			must(t, "GetFactorByCredential", err)
			diff(t, "GetFactorByCredential", got, f)
		}
	}
	wantFactors(t, s, "user", u.ID, byCreation([]store.Factor{stored(app), stored(key), stored(pendingKey), wantCodes,
		stored(bare), wantEarly, stored(tieA), stored(tieB)})...)
	wantFactors(t, s, "other user", other.ID, stored(theirs))

	for _, id := range []string{uuid.NewString(), "nope", ""} {
		wantNoFactor(t, s, fmt.Sprintf("factor %q", id), id, nil)
		wantFactors(t, s, fmt.Sprintf("user %q", id), id)
	}
	for _, c := range [][]byte{credential("unknown"), nil, {}} {
		_, err := s.GetFactorByCredential(ctx, c)
		wantErr(t, fmt.Sprintf("GetFactorByCredential(%x)", c), err, store.ErrNotFound)
	}
}

func testCreateFactorErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	u, other := twoUsers(t, s)
	orig := mustCreateFactor(t, s, verified(newFactor(u.ID, store.FactorWebAuthn, 1)))

	tests := []struct {
		name   string
		change func(*store.Factor)
		want   error // nil: any error that is not a sentinel
	}{
		{"id taken", func(f *store.Factor) { f.ID = orig.ID }, store.ErrAlreadyExists},
		{"id taken, in capitals", func(f *store.Factor) { f.ID = strings.ToUpper(orig.ID) }, store.ErrAlreadyExists},
		{"credential id taken", func(f *store.Factor) { f.CredentialID = orig.CredentialID }, store.ErrAlreadyExists},
		{"credential id taken, other user", func(f *store.Factor) { f.UserID, f.CredentialID = other.ID, orig.CredentialID }, store.ErrAlreadyExists},
		{"unknown user", func(f *store.Factor) { f.UserID = uuid.NewString() }, store.ErrNotFound},
		{"malformed user id", func(f *store.Factor) { f.UserID = "nope" }, store.ErrNotFound},
		{"malformed id", func(f *store.Factor) { f.ID = "nope" }, store.ErrInvalidID},
		{"no type", func(f *store.Factor) { f.Type, f.CredentialID = "", nil }, nil},
		{"unknown type", func(f *store.Factor) { f.Type, f.CredentialID = "sms", nil }, nil},
		{"type in capitals", func(f *store.Factor) { f.Type, f.CredentialID = "TOTP", nil }, nil},
		{"zero creation time", func(f *store.Factor) { f.CreatedAt = time.Time{} }, nil},
		{"credential id on an app", func(f *store.Factor) { f.Type = store.FactorTOTP }, nil},
		{"credential id on recovery codes", func(f *store.Factor) { f.Type = store.FactorRecovery }, nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := verified(newFactor(u.ID, store.FactorWebAuthn, 10+i))
			tt.change(&f)
			err := s.CreateFactor(ctx, f)
			if tt.want != nil {
				wantErr(t, "CreateFactor", err, tt.want)
			} else {
				wantPlainErr(t, "CreateFactor", err)
			}
			// Nothing was written.
			wantFactor(t, s, "original factor", orig)
			wantFactors(t, s, "user", u.ID, orig)
			wantFactors(t, s, "other user", other.ID)
			if !strings.EqualFold(f.ID, orig.ID) && !slices.Equal(f.CredentialID, orig.CredentialID) {
				wantNoFactor(t, s, "refused factor", f.ID, f.CredentialID)
			}
		})
	}
}

func testUpdateFactor(t *testing.T, s store.Store) {
	ctx := t.Context()
	u, other := twoUsers(t, s)
	f := mustCreateFactor(t, s, verified(newFactor(u.ID, store.FactorWebAuthn, 1)))
	pending := mustCreateFactor(t, s, newFactor(u.ID, store.FactorTOTP, 2))

	// Only Name, Secret, Counter and LastUsedAt are saved.
	var seen store.Factor
	got, err := s.UpdateFactor(ctx, strings.ToUpper(f.ID), func(x *store.Factor) error {
		seen = *x
		x.Name, x.Secret, x.Counter, x.LastUsedAt = "YubiKey 5", []byte("sign count 42"), 42, at(5*time.Hour)
		x.VerifiedAt, x.CredentialID, x.Type = at(6*time.Hour), credential("other"), store.FactorRecovery
		x.UserID, x.CreatedAt = other.ID, at(7*time.Hour)
		return nil
	})
	must(t, "UpdateFactor", err)
	diff(t, "factor fn saw", seen, f)
	want := f
	want.Name, want.Secret, want.Counter, want.LastUsedAt = "YubiKey 5", []byte("sign count 42"), 42, at(5*time.Hour).Truncate(micro)
	diff(t, "UpdateFactor", got, want)
	wantFactor(t, s, "after UpdateFactor", want)
	got, err = s.GetFactorByCredential(ctx, f.CredentialID)
	must(t, "GetFactorByCredential after UpdateFactor", err)
	diff(t, "GetFactorByCredential after UpdateFactor", got, want)
	_, err = s.GetFactorByCredential(ctx, credential("other"))
	wantErr(t, "GetFactorByCredential(credential id fn set)", err, store.ErrNotFound)
	wantFactors(t, s, "other user after UpdateFactor", other.ID)

	// A zero time, an empty name and secret and a zero counter are
	// stored as such.
	got, err = s.UpdateFactor(ctx, f.ID, func(x *store.Factor) error {
		x.Name, x.Secret, x.Counter, x.LastUsedAt = "", []byte{}, 0, time.Time{}
		return nil
	})
	must(t, "UpdateFactor(zero values)", err)
	want.Name, want.Secret, want.Counter, want.LastUsedAt = "", nil, 0, time.Time{}
	diff(t, "UpdateFactor(zero values)", got, want)

	// An update cannot verify a pending factor.
	got, err = s.UpdateFactor(ctx, pending.ID, func(x *store.Factor) error {
		x.VerifiedAt, x.Counter = at(time.Hour), 3
		return nil
	})
	must(t, "UpdateFactor(pending)", err)
	wantPending := pending
	wantPending.Counter = 3
	diff(t, "UpdateFactor(pending)", got, wantPending)

	_, err = s.UpdateFactor(ctx, f.ID, func(x *store.Factor) error {
		x.Name, x.Counter = "lost", 99
		return errBoom
	})
	wantErr(t, "UpdateFactor(fn error)", err, errBoom)
	for _, id := range []string{uuid.NewString(), "nope", ""} {
		_, err := s.UpdateFactor(ctx, id, func(*store.Factor) error {
			t.Errorf("UpdateFactor(%q) called fn", id)
			return nil
		})
		wantErr(t, fmt.Sprintf("UpdateFactor(%q)", id), err, store.ErrNotFound)
	}
	wantFactors(t, s, "after refused updates", u.ID, want, wantPending)
}

func testVerifyFactor(t *testing.T, s store.Store) {
	u, other := twoUsers(t, s)
	v := &verifyFactorCase{s: s, u: u, other: other,
		codes:  mustCreateFactor(t, s, verified(newFactor(u.ID, store.FactorRecovery, 1))),
		key:    mustCreateFactor(t, s, newFactor(u.ID, store.FactorWebAuthn, 2)),
		app:    mustCreateFactor(t, s, newFactor(u.ID, store.FactorTOTP, 3)),
		theirs: mustCreateFactor(t, s, verified(newFactor(other.ID, store.FactorWebAuthn, 4))),
	}
	v.wantUser, v.wantOther = stored(u), stored(other)
	t.Run("RaisesEpoch", v.testRaisesEpoch)
	t.Run("Refused", v.testRefused)
	t.Run("NotFound", v.testNotFound)
	t.Run("Passkey", v.testPasskey)
}

// verifyFactorCase is what the steps of testVerifyFactor share: a user
// with recovery codes, a pending passkey (key) and a pending app, the
// other user with a verified passkey, and what the store must hold by
// now.
type verifyFactorCase struct {
	s                       store.Store
	u, other                store.User
	codes, key, app, theirs store.Factor
	wantUser, wantOther     store.User
	wantApp                 store.Factor
}

// testRaisesEpoch: verifying the app raises the user's credential epoch:
// both are saved, together.
func (v *verifyFactorCase) testRaisesEpoch(t *testing.T) {
	ctx := t.Context()
	s, u, app := v.s, v.u, v.app
	var (
		seenUser   store.User
		seenFactor store.Factor
		seenOthers []store.Factor
	)
	gotUser, gotFactor, err := s.VerifyFactor(ctx, strings.ToUpper(app.ID), func(x *store.User, f *store.Factor, others []store.Factor) error {
		seenUser, seenFactor, seenOthers = *x, *f, others
		x.CredentialEpoch++
		x.UpdatedAt = at(time.Hour)
		f.Name, f.Secret, f.Counter = "Phone", []byte("confirmed"), 55
		f.VerifiedAt, f.LastUsedAt = at(time.Hour), at(time.Hour+time.Second)
		// Not saved.
		f.Type, f.UserID, f.CreatedAt = store.FactorRecovery, v.other.ID, at(9*time.Hour)
		return nil
	})
	must(t, "VerifyFactor", err)
	diff(t, "user fn saw", seenUser, v.wantUser)
	diff(t, "factor fn saw", seenFactor, app)
	diff(t, "other factors fn saw", seenOthers, []store.Factor{v.codes, v.key})
	v.wantUser.CredentialEpoch, v.wantUser.UpdatedAt = 1, at(time.Hour).Truncate(micro)
	v.wantApp = app
	v.wantApp.Name, v.wantApp.Secret, v.wantApp.Counter = "Phone", []byte("confirmed"), 55
	v.wantApp.VerifiedAt, v.wantApp.LastUsedAt = at(time.Hour).Truncate(micro), at(time.Hour+time.Second).Truncate(micro)
	diff(t, "VerifyFactor: user", gotUser, v.wantUser)
	diff(t, "VerifyFactor: factor", gotFactor, v.wantApp)
	diff(t, "GetUser after VerifyFactor", mustGet(t, "GetUser", s.GetUser, u.ID), v.wantUser)
	wantFactor(t, s, "after VerifyFactor", v.wantApp)
	// The user's new epoch is what a session must now be made under.
	wantErr(t, "CreateSession(epoch before VerifyFactor)", s.CreateSession(ctx, newSession(u.ID, 1)), store.ErrStale)
}

// testRefused: refused verifications of the passkey write nothing:
// neither the user's change nor the factor's.
func (v *verifyFactorCase) testRefused(t *testing.T) {
	s, u, other, key := v.s, v.u, v.other, v.key
	refused := []struct {
		name string
		id   string
		fn   func(*store.User, *store.Factor) error
		want error // nil: any error
	}{
		{"fn error", key.ID, func(x *store.User, f *store.Factor) error {
			f.VerifiedAt, f.CredentialID = at(time.Hour), credential("refused")
			return errBoom
		}, errBoom},
		{"credential id of another user's factor", key.ID, func(_ *store.User, f *store.Factor) error {
			f.VerifiedAt, f.CredentialID = at(time.Hour), v.theirs.CredentialID
			return nil
		}, store.ErrAlreadyExists},
		{"fn takes a taken email", key.ID, func(x *store.User, f *store.Factor) error {
			x.Email = other.Email
			f.VerifiedAt, f.CredentialID = at(time.Hour), credential("refused")
			return nil
		}, store.ErrAlreadyExists},
		{"fn changes the user id", key.ID, func(x *store.User, f *store.Factor) error {
			x.ID = uuid.NewString()
			f.VerifiedAt, f.CredentialID = at(time.Hour), credential("refused")
			return nil
		}, nil},
		{"credential id on recovery codes", v.codes.ID, func(_ *store.User, f *store.Factor) error {
			f.CredentialID = credential("refused")
			return nil
		}, nil},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.VerifyFactor(t.Context(), tt.id, func(x *store.User, f *store.Factor, _ []store.Factor) error {
				x.CredentialEpoch++
				return tt.fn(x, f)
			})
			wantFailure(t, "VerifyFactor", err, tt.want)
			diff(t, "user", mustGet(t, "GetUser", s.GetUser, u.ID), v.wantUser)
			diff(t, "other user", mustGet(t, "GetUser", s.GetUser, other.ID), v.wantOther)
			wantFactors(t, s, "user", u.ID, v.codes, key, v.wantApp)
			wantFactors(t, s, "other user", other.ID, v.theirs)
			wantNoFactor(t, s, "refused credential", uuid.NewString(), credential("refused"))
		})
	}
}

func (v *verifyFactorCase) testNotFound(t *testing.T) {
	for _, id := range []string{uuid.NewString(), "nope", ""} {
		_, _, err := v.s.VerifyFactor(t.Context(), id, func(*store.User, *store.Factor, []store.Factor) error {
			t.Errorf("VerifyFactor(%q) called fn", id)
			return nil
		})
		wantErr(t, fmt.Sprintf("VerifyFactor(%q)", id), err, store.ErrNotFound)
	}
}

// testPasskey: the passkey gets its credential; fn saw the app verified
// among the others, and not the passkey itself.
func (v *verifyFactorCase) testPasskey(t *testing.T) {
	s, key := v.s, v.key
	var seenOthers []store.Factor
	_, gotFactor, err := s.VerifyFactor(t.Context(), key.ID, func(_ *store.User, f *store.Factor, others []store.Factor) error {
		seenOthers = others
		f.CredentialID, f.VerifiedAt, f.Counter = credential("key"), at(2*time.Hour), 1
		return nil
	})
	must(t, "VerifyFactor(passkey)", err)
	diff(t, "other factors fn saw", seenOthers, []store.Factor{v.codes, v.wantApp})
	wantKey := key
	wantKey.CredentialID, wantKey.VerifiedAt, wantKey.Counter = credential("key"), at(2*time.Hour).Truncate(micro), 1
	diff(t, "VerifyFactor(passkey)", gotFactor, wantKey)
	got, err := s.GetFactorByCredential(t.Context(), credential("key"))
	must(t, "GetFactorByCredential(verified passkey)", err)
	diff(t, "GetFactorByCredential(verified passkey)", got, wantKey)
	// fn changed nothing of the user: it is saved as it was.
	diff(t, "user after verifying the passkey", mustGet(t, "GetUser", s.GetUser, v.u.ID), v.wantUser)
	wantFactors(t, s, "after verifying every factor", v.u.ID, v.codes, wantKey, v.wantApp)
}

func testDeleteFactors(t *testing.T, s store.Store) {
	ctx := t.Context()
	u, other := twoUsers(t, s)
	a := mustCreateFactor(t, s, verified(newFactor(u.ID, store.FactorTOTP, 1)))
	b := mustCreateFactor(t, s, verified(newFactor(u.ID, store.FactorWebAuthn, 2)))
	c := mustCreateFactor(t, s, newFactor(u.ID, store.FactorWebAuthn, 3))
	d := mustCreateFactor(t, s, verified(newFactor(u.ID, store.FactorRecovery, 4)))
	theirs := mustCreateFactor(t, s, verified(newFactor(other.ID, store.FactorTOTP, 5)))
	wantUser := stored(u)

	// Only the ids of the user's own factors count, each once.
	var (
		seenUser    store.User
		seenFactors []store.Factor
	)
	n, err := s.DeleteFactors(ctx, strings.ToUpper(u.ID), func(x store.User, factors []store.Factor) ([]string, error) {
		seenUser, seenFactors = x, factors
		return []string{strings.ToUpper(b.ID), b.ID, c.ID, theirs.ID, uuid.NewString(), "nope", ""}, nil
	})
	if err != nil || n != 2 {
		t.Errorf("DeleteFactors = %d, %v; want 2, nil", n, err)
	}
	diff(t, "user fn saw", seenUser, wantUser)
	diff(t, "factors fn saw", seenFactors, []store.Factor{a, b, c, d})
	wantFactors(t, s, "after DeleteFactors", u.ID, a, d)
	wantNoFactor(t, s, "deleted passkey", b.ID, b.CredentialID)
	wantNoFactor(t, s, "deleted pending passkey", c.ID, nil)
	wantFactors(t, s, "other user", other.ID, theirs)
	diff(t, "user after DeleteFactors", mustGet(t, "GetUser", s.GetUser, u.ID), wantUser)

	// fn refuses: nothing goes.
	n, err = s.DeleteFactors(ctx, u.ID, func(store.User, []store.Factor) ([]string, error) {
		return []string{a.ID, d.ID}, errBoom
	})
	if !errors.Is(err, errBoom) || n != 0 {
		t.Errorf("DeleteFactors(fn error) = %d, %v; want 0, %v", n, err, errBoom)
	}
	n, err = s.DeleteFactors(ctx, u.ID, func(store.User, []store.Factor) ([]string, error) { return nil, nil })
	if err != nil || n != 0 {
		t.Errorf("DeleteFactors(none) = %d, %v; want 0, nil", n, err)
	}
	wantFactors(t, s, "after refused deletes", u.ID, a, d)

	for _, id := range []string{uuid.NewString(), "nope", ""} {
		n, err := s.DeleteFactors(ctx, id, func(store.User, []store.Factor) ([]string, error) {
			t.Errorf("DeleteFactors(%q) called fn", id)
			return nil, nil
		})
		if !isNotFound(err) || n != 0 {
			t.Errorf("DeleteFactors(%q) = %d, %v; want 0, ErrNotFound", id, n, err)
		}
	}

	// Every one; then fn sees none.
	n, err = s.DeleteFactors(ctx, u.ID, func(_ store.User, factors []store.Factor) ([]string, error) {
		var ids []string
		for _, f := range factors {
			ids = append(ids, f.ID)
		}
		return ids, nil
	})
	if err != nil || n != 2 {
		t.Errorf("DeleteFactors(every one) = %d, %v; want 2, nil", n, err)
	}
	called := false
	_, err = s.DeleteFactors(ctx, u.ID, func(x store.User, factors []store.Factor) ([]string, error) {
		called = true
		if len(factors) != 0 {
			t.Errorf("DeleteFactors(user without factors): fn saw %d factors, want 0", len(factors))
		}
		diff(t, "user without factors fn saw", x, wantUser)
		return nil, nil
	})
	must(t, "DeleteFactors(user without factors)", err)
	if !called {
		t.Errorf("DeleteFactors(user without factors) did not call fn")
	}
	wantFactors(t, s, "after deleting every factor", u.ID)
	wantFactors(t, s, "other user at the end", other.ID, theirs)
}

func testDeleteUserCascadesFactors(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mustCreateUser(t, s, newUser(1))
	a := mustCreateFactor(t, s, verified(newFactor(u.ID, store.FactorWebAuthn, 1)))
	b := mustCreateFactor(t, s, newFactor(u.ID, store.FactorTOTP, 2))
	other := mustCreateUser(t, s, newUser(3))
	kept := mustCreateFactor(t, s, verified(newFactor(other.ID, store.FactorWebAuthn, 3)))
	must(t, "DeleteUser", s.DeleteUser(ctx, u.ID))

	wantNoFactor(t, s, "factor of a deleted user", a.ID, a.CredentialID)
	wantNoFactor(t, s, "pending factor of a deleted user", b.ID, nil)
	wantFactors(t, s, "deleted user", u.ID)
	wantFactors(t, s, "other user", other.ID, kept)
	_, err := s.UpdateFactor(ctx, a.ID, func(*store.Factor) error { return nil })
	wantErr(t, "UpdateFactor(factor of a deleted user)", err, store.ErrNotFound)
	_, _, err = s.VerifyFactor(ctx, b.ID, func(*store.User, *store.Factor, []store.Factor) error { return nil })
	wantErr(t, "VerifyFactor(factor of a deleted user)", err, store.ErrNotFound)
	_, err = s.DeleteFactors(ctx, u.ID, func(store.User, []store.Factor) ([]string, error) { return nil, nil })
	wantErr(t, "DeleteFactors(deleted user)", err, store.ErrNotFound)
	err = s.CreateFactor(ctx, newFactor(u.ID, store.FactorTOTP, 4))
	wantErr(t, "CreateFactor(deleted user)", err, store.ErrNotFound)

	// The credential id is free again.
	again := newFactor(other.ID, store.FactorWebAuthn, 5)
	again.CredentialID, again.VerifiedAt = a.CredentialID, at(time.Hour)
	mustCreateFactor(t, s, again)
}

func testDeletePendingFactorsBefore(t *testing.T, s store.Store) {
	u := mustCreateUser(t, s, newUser(1))
	cut := at(24 * time.Hour)
	cases := []struct {
		name     string
		created  time.Time
		verified bool
		gone     bool
	}{
		{"pending, created a microsecond before", cut.Add(-micro), false, true},
		{"pending, created at the cut-off", cut, false, false},
		{"pending, created a microsecond after", cut.Add(micro), false, false},
		{"verified, created a microsecond before", cut.Add(-micro), true, false},
		{"verified, created long ago", at(-time.Hour), true, false},
		// More than a batch of the backends' tests.
		{"pending, created long ago 1", at(-time.Hour), false, true},
		{"pending, created long ago 2", at(time.Hour), false, true},
		{"pending, created long ago 3", at(2 * time.Hour), false, true},
		{"pending, created long ago 4", at(3 * time.Hour), false, true},
	}
	types := []store.FactorType{store.FactorTOTP, store.FactorWebAuthn, store.FactorRecovery}
	var (
		factors []store.Factor
		want    int64
	)
	for i, c := range cases {
		f := newFactor(u.ID, types[i%len(types)], i)
		f.CreatedAt = c.created
		if c.verified {
			f = verified(f)
		}
		factors = append(factors, mustCreateFactor(t, s, f))
		if c.gone {
			want++
		}
	}

	wantDeleted(t, "DeletePendingFactorsBefore(zero time)", s.DeletePendingFactorsBefore, time.Time{}, 0)
	wantFactors(t, s, "after DeletePendingFactorsBefore(zero time)", u.ID, byCreation(slices.Clone(factors))...)
	wantDeleted(t, "DeletePendingFactorsBefore", s.DeletePendingFactorsBefore, cut, want)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.gone {
				wantNoFactor(t, s, "deleted", factors[i].ID, nil)
			} else {
				wantFactor(t, s, "kept", factors[i])
			}
		})
	}
	diff(t, "GetUser after DeletePendingFactorsBefore", mustGet(t, "GetUser", s.GetUser, u.ID), stored(u))
	wantDeleted(t, "DeletePendingFactorsBefore again", s.DeletePendingFactorsBefore, cut, 0)
}

// The races below use users 900 and up, and factors created after t0:
// testPendingCleanupRace deletes pending factors created before t0 only.

// errReplayed is what a TOTP check returns for a time step at or below
// the last one accepted.
var errReplayed = errors.New("storetest: TOTP step already used")

// testTOTPReplayRace: a code of one time step presented at once to
// several instances; each accepts it only if the factor's counter is
// below the step, and raises the counter to it. Exactly one may accept
// it, in each round.
func testTOTPReplayRace(t *testing.T, stores []store.Store) {
	ctx := t.Context()
	u := mustCreateUser(t, stores[0], newUser(900))
	f := mustCreateFactor(t, stores[0], verified(newFactor(u.ID, store.FactorTOTP, 900)))
	const n = 12
	for round := range 4 {
		step := f.Counter + int64(round) + 1
		won := raceToWin(t, stores, n, fmt.Sprintf("round %d: UpdateFactor", round), errReplayed, func(i int, st store.Store) error {
			_, err := st.UpdateFactor(ctx, f.ID, func(x *store.Factor) error {
				if x.Counter >= step {
					return errReplayed
				}
				// Widen the window between the check and the save, where
				// a missing lock would let another update in.
				time.Sleep(20 * time.Millisecond)
				x.Counter, x.LastUsedAt = step, at(time.Duration(i)*time.Second)
				return nil
			})
			return err
		})
		got := mustGet(t, "GetFactor", stores[0].GetFactor, f.ID)
		if got.Counter != step {
			t.Errorf("round %d: Counter = %d, want %d", round, got.Counter, step)
		}
		if won >= 0 && !got.LastUsedAt.Equal(at(time.Duration(won)*time.Second).Truncate(micro)) {
			t.Errorf("round %d: LastUsedAt = %v, want the winner's", round, got.LastUsedAt)
		}
	}
}

// errCodeSpent is what a recovery-code check returns for a code that is
// not among the unused ones.
var errCodeSpent = errors.New("storetest: recovery code already spent")

// spendCode returns a func for UpdateFactor that removes code from the
// recovery codes its Secret lists, one per line; errCodeSpent if it is
// not there.
func spendCode(code string) func(*store.Factor) error {
	return func(x *store.Factor) error {
		var codes []string
		if len(x.Secret) > 0 {
			codes = strings.Split(string(x.Secret), "\n")
		}
		i := slices.Index(codes, code)
		if i < 0 {
			return errCodeSpent
		}
		time.Sleep(10 * time.Millisecond) // the window a missing lock would open
		x.Secret = []byte(strings.Join(slices.Delete(codes, i, i+1), "\n"))
		return nil
	}
}

// testRecoveryCodeRace: one recovery code presented at once to several
// instances is spent once; every other code presented at once, one each,
// is spent, none restored by a concurrent update that saved the list as
// it read it.
func testRecoveryCodeRace(t *testing.T, stores []store.Store) {
	ctx := t.Context()
	u := mustCreateUser(t, stores[0], newUser(901))
	const n = 10
	var codes []string
	for i := range n {
		codes = append(codes, fmt.Sprintf("code-%02d", i))
	}
	f := verified(newFactor(u.ID, store.FactorRecovery, 901))
	f.Secret = []byte(strings.Join(codes, "\n"))
	f = mustCreateFactor(t, stores[0], f)

	raceToWin(t, stores, n, "UpdateFactor(same code)", errCodeSpent, func(_ int, st store.Store) error {
		_, err := st.UpdateFactor(ctx, f.ID, spendCode(codes[0]))
		return err
	})
	got := mustGet(t, "GetFactor", stores[0].GetFactor, f.ID)
	diff(t, "codes left after the same code raced", string(got.Secret), strings.Join(codes[1:], "\n"))

	errs := make([]error, n-1)
	race(n-1, func(i int) {
		_, errs[i] = stores[i%len(stores)].UpdateFactor(ctx, f.ID, spendCode(codes[1+i]))
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("UpdateFactor(code %d): %v", 1+i, err)
		}
	}
	got = mustGet(t, "GetFactor", stores[0].GetFactor, f.ID)
	if got.Secret != nil {
		t.Errorf("codes left after every code was spent: %q, want none", got.Secret)
	}
}

// errLastFactor is what the funcs of testLeaveOneFactorRace return to
// refuse to leave a user without a verified factor.
var errLastFactor = errors.New("storetest: the last verified factor")

// testLeaveOneFactorRace: two deletes at once of a user's two verified
// factors, each refusing to leave none: exactly one succeeds, the other
// sees what the first left and refuses. The user's pending factor does
// not count, and stays.
func testLeaveOneFactorRace(t *testing.T, stores []store.Store) {
	ctx := t.Context()
	for round := range 8 {
		u := mustCreateUser(t, stores[0], newUser(910+round))
		factors := []store.Factor{
			mustCreateFactor(t, stores[0], verified(newFactor(u.ID, store.FactorTOTP, 910))),
			mustCreateFactor(t, stores[0], verified(newFactor(u.ID, store.FactorWebAuthn, 911))),
		}
		pending := mustCreateFactor(t, stores[0], newFactor(u.ID, store.FactorWebAuthn, 912))
		deleted := make([]int64, 2)
		won := raceToWin(t, stores, 2, fmt.Sprintf("round %d: DeleteFactors", round), errLastFactor, func(i int, st store.Store) error {
			var err error
			deleted[i], err = st.DeleteFactors(ctx, u.ID, func(_ store.User, all []store.Factor) ([]string, error) {
				left := 0
				for _, f := range all {
					if f.ID != factors[i].ID && !f.VerifiedAt.IsZero() {
						left++
					}
				}
				if left == 0 {
					return nil, errLastFactor
				}
				time.Sleep(20 * time.Millisecond) // the window a missing lock would open
				return []string{factors[i].ID}, nil
			})
			return err
		})
		if won < 0 {
			continue
		}
		if deleted[won] != 1 {
			t.Errorf("round %d: the winner deleted %d factors, want 1", round, deleted[won])
		}
		wantFactors(t, stores[0], fmt.Sprintf("round %d", round), u.ID, factors[1-won], pending)
	}
}

// errAlreadyVerified is what the funcs of testVerifyFactorRace return for
// a factor verified already.
var errAlreadyVerified = errors.New("storetest: factor already verified")

// testVerifyFactorRace: one pending passkey verified at once by several
// instances, each raising the user's credential epoch unless the factor
// is verified already: exactly one verifies it, and the epoch goes up
// once. Then two users' pending passkeys verified at once with one
// credential id: exactly one gets it, and the other user's epoch stays.
func testVerifyFactorRace(t *testing.T, stores []store.Store) {
	ctx := t.Context()
	u := mustCreateUser(t, stores[0], newUser(920))
	f := mustCreateFactor(t, stores[0], newFactor(u.ID, store.FactorWebAuthn, 920))
	const n = 8
	won := raceToWin(t, stores, n, "VerifyFactor(same factor)", errAlreadyVerified, func(i int, st store.Store) error {
		_, _, err := st.VerifyFactor(ctx, f.ID, func(x *store.User, y *store.Factor, _ []store.Factor) error {
			if !y.VerifiedAt.IsZero() {
				return errAlreadyVerified
			}
			time.Sleep(20 * time.Millisecond) // the window a missing lock would open
			x.CredentialEpoch++
			y.VerifiedAt, y.CredentialID = at(time.Hour), credential(fmt.Sprint(f.ID, i))
			return nil
		})
		return err
	})
	if got := mustGet(t, "GetUser", stores[0].GetUser, u.ID); got.CredentialEpoch != 1 {
		t.Errorf("CredentialEpoch = %d, want 1", got.CredentialEpoch)
	}
	if won >= 0 {
		got := mustGet(t, "GetFactor", stores[0].GetFactor, f.ID)
		diff(t, "credential id", got.CredentialID, credential(fmt.Sprint(f.ID, won)))
	}

	users := []store.User{mustCreateUser(t, stores[0], newUser(921)), mustCreateUser(t, stores[0], newUser(922))}
	keys := []store.Factor{
		mustCreateFactor(t, stores[0], newFactor(users[0].ID, store.FactorWebAuthn, 921)),
		mustCreateFactor(t, stores[0], newFactor(users[1].ID, store.FactorWebAuthn, 922)),
	}
	shared := credential("raced by two users")
	won = raceToWin(t, stores, 2, "VerifyFactor(same credential id)", store.ErrAlreadyExists, func(i int, st store.Store) error {
		_, _, err := st.VerifyFactor(ctx, keys[i].ID, func(x *store.User, y *store.Factor, _ []store.Factor) error {
			x.CredentialEpoch++
			y.VerifiedAt, y.CredentialID = at(time.Hour), shared
			return nil
		})
		return err
	})
	if won < 0 {
		return
	}
	got, err := stores[0].GetFactorByCredential(ctx, shared)
	if err != nil || got.ID != keys[won].ID {
		t.Errorf("GetFactorByCredential = %s, %v; want the winner's %s", got.ID, err, keys[won].ID)
	}
	wantFactor(t, stores[0], "the loser's passkey", keys[1-won])
	diff(t, "the loser's user", mustGet(t, "GetUser", stores[0].GetUser, users[1-won].ID), stored(users[1-won]))
}

// testPendingCleanupRace: the clean-up of pending factors runs on every
// store while half of the old pending factors are being verified. A
// factor is either verified (and stays, verified) or deleted first (and
// its verification finds nothing); the other half all go.
func testPendingCleanupRace(t *testing.T, stores []store.Store) {
	ctx := t.Context()
	s := stores[0]
	u := mustCreateUser(t, s, newUser(930))
	long, cut := at(-1000*time.Hour), at(-500*time.Hour)
	const n = 16
	var factors []store.Factor
	for i := range n {
		f := newFactor(u.ID, store.FactorTOTP, 930)
		f.CreatedAt = long.Add(time.Duration(i) * time.Second)
		factors = append(factors, mustCreateFactor(t, s, f))
	}
	const verifiers, cleaners = n / 2, 4
	errs := make([]error, verifiers+cleaners)
	deleted := make([]int64, verifiers+cleaners)
	race(verifiers+cleaners, func(i int) {
		st := stores[i%len(stores)]
		if i >= verifiers {
			deleted[i], errs[i] = st.DeletePendingFactorsBefore(ctx, cut)
			return
		}
		_, _, errs[i] = st.VerifyFactor(ctx, factors[2*i].ID, func(_ *store.User, f *store.Factor, _ []store.Factor) error {
			time.Sleep(time.Millisecond) // hold the locks while the clean-up runs
			f.VerifiedAt = at(0)
			return nil
		})
	})
	var gone int64
	for i, err := range errs {
		if i >= verifiers {
			if err != nil {
				t.Errorf("DeletePendingFactorsBefore %d: %v", i, err)
			}
			gone += deleted[i]
			continue
		}
		f := factors[2*i]
		switch {
		case err == nil:
			want := f
			want.VerifiedAt = at(0).Truncate(micro)
			wantFactor(t, s, fmt.Sprintf("factor %d, verified during the clean-up", 2*i), want)
		case isNotFound(err):
			wantNoFactor(t, s, fmt.Sprintf("factor %d, deleted before its verification", 2*i), f.ID, nil)
		default:
			t.Errorf("VerifyFactor %d: got %v, want nil or ErrNotFound", i, err)
		}
	}
	for i := 1; i < n; i += 2 {
		wantNoFactor(t, s, fmt.Sprintf("pending factor %d", i), factors[i].ID, nil)
	}
	list, err := s.ListFactors(ctx, u.ID)
	must(t, "ListFactors", err)
	if int64(len(list))+gone != n {
		t.Errorf("%d factors kept and %d deleted, want %d in all", len(list), gone, n)
	}
	for _, f := range list {
		if f.VerifiedAt.IsZero() {
			t.Errorf("pending factor %s kept after the clean-up", f.ID)
		}
	}
}
