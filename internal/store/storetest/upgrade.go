package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/latchauth/latch/internal/store"
)

// migrations is the schema history every backend embeds: the same
// versions, under the same names, in every dialect.
var migrations = []store.Migration{
	{Version: 1, Name: "init"},
	{Version: 2, Name: "audit_cleanup"},
	{Version: 3, Name: "mail"},
	{Version: 4, Name: "credentials"},
	{Version: 5, Name: "browser"},
	{Version: 6, Name: "identities"},
	{Version: 7, Name: "factors"},
}

// MigrateTo applies a backend's embedded migrations up to and including
// version, and no further.
type MigrateTo func(ctx context.Context, version int64) error

// Upgrade is what RunUpgrade needs of a backend.
type Upgrade struct {
	// Store is on a new, empty, unmigrated database; RunUpgrade closes it.
	Store     store.Store
	MigrateTo MigrateTo
	// Encoding is how the backend's schema stored, at the versions the
	// seeds write (1 and 3), what has no one SQL encoding.
	Encoding SeedEncoding
	// Insert writes the seed's rows in one transaction, as a latch of
	// their schema version stored them: with SQL of the test's own (see
	// SeedRow.InsertSQL), not through Store, whose current code names
	// columns that the older versions lack.
	Insert func(ctx context.Context, rows []SeedRow) error
}

// Rows1 is what the seed at schema version 1 writes: a row for every
// table that version 1 has. Every field that version 1 has a column for
// is written (a zero time in a nullable column as NULL, an empty
// ParentHash as NULL, a nil AMR as an empty array); the other fields are
// zero and are not written.
type Rows1 struct {
	Users    []store.User
	Sessions []store.Session
	// RefreshTokens are the refresh_tokens rows: every hash the sessions
	// issued, their live ones and the ones they replaced.
	RefreshTokens []RefreshToken1
	Keys          []store.SigningKey
	Throttles     []store.Throttle
}

// RefreshToken1 is a row of version 1's refresh_tokens table.
type RefreshToken1 struct {
	Hash      []byte
	SessionID string
	IssuedAt  time.Time
}

// RunUpgrade checks that a database written by an older latch keeps every
// row through the migrations that follow, and that the current methods
// work on those rows. open must return a new, empty, unmigrated database
// as an Upgrade.
func RunUpgrade(t *testing.T, open func(t *testing.T) Upgrade) {
	t.Run("From1", func(t *testing.T) {
		t.Parallel()
		up := open(t)
		closing(t, up.Store)
		testUpgradeFrom1(t, up)
	})
}

// migrateTo migrates to version and checks that the database is there,
// with the later migrations pending.
func migrateTo(t *testing.T, up Upgrade, version int64) {
	t.Helper()
	ctx := t.Context()
	if err := up.MigrateTo(ctx, version); err != nil {
		t.Fatalf("migrate to version %d: %v", version, err)
	}
	st, err := up.Store.MigrationStatus(ctx)
	must(t, "MigrationStatus", err)
	if st.Current != version || st.Latest <= version {
		t.Fatalf("MigrationStatus = current %d, latest %d; want %d and more than %d", st.Current, st.Latest, version, version)
	}
	for _, m := range st.Migrations {
		if applied := !m.AppliedAt.IsZero(); applied != (m.Version <= version) {
			t.Errorf("migration %d applied = %v at version %d", m.Version, applied, version)
		}
	}
}

// writtenAt1 is what testUpgradeFrom1 writes at schema versions 1 and
// 3, and what the current store must make of it as the test goes on.
type writtenAt1 struct {
	now                       time.Time
	full, bare                store.User
	rotated, revoked, expired store.Session
	hashes                    [][]byte // every refresh hash, the ended sessions' from 3 on
	previous, current         store.SigningKey
	throttleKeys              []string
	rows                      Rows1

	changeTok, verifyTok, verifyTok2, otpTok store.OneTimeToken
	tokens                                   []store.OneTimeToken // written at version 3

	wantUsers   []store.User
	sessionUser map[string]store.User // by id, as the store returns it
	// wantFull is the user full as the store holds it by now.
	wantFull store.User
	// revert is an email_revert token written after the migrations.
	revert store.OneTimeToken
}

func testUpgradeFrom1(t *testing.T, up Upgrade) {
	ctx := t.Context()
	s := up.Store
	migrateTo(t, up, 1)
	w := newWrittenAt1()
	must(t, "write rows at version 1", up.Insert(ctx, w.rows.seedRows(up.Encoding)))

	// One-time tokens came with version 3; the migration after it
	// rebuilds their table on SQLite.
	migrateTo(t, up, 3)
	must(t, "write tokens at version 3", up.Insert(ctx, seedTokens3(w.tokens, up.Encoding)))

	must(t, "Migrate from version 3", s.Migrate(ctx))
	st, err := s.MigrationStatus(ctx)
	must(t, "MigrationStatus", err)
	checkStatus(t, st, true)

	// Every value reads back; the columns added since hold their
	// defaults (CredentialEpoch 0, AuthTime zero, SessionID "", Kind
	// app, ParentID ""), which the values written above have already.
	t.Run("UsersAndSessions", func(t *testing.T) { w.checkUsersAndSessions(t, s) })
	t.Run("KeysThrottlesAndTokens", func(t *testing.T) { w.checkKeysThrottlesAndTokens(t, s) })
	// The methods that came later work on the old rows.
	t.Run("CleanUps", func(t *testing.T) { w.checkCleanUps(t, s) })
	t.Run("CredentialEpoch", func(t *testing.T) { w.checkCredentialEpoch(t, s) })
	t.Run("RebuiltTokens", func(t *testing.T) { w.checkRebuiltTokens(t, s) })
	t.Run("DeleteUser", func(t *testing.T) { w.checkDeleteUser(t, s) })
}

// newWrittenAt1 returns rows of every table version 1 has, with every
// field set, and the zero and nil values that are stored as NULL; and
// one-time tokens for version 3.
func newWrittenAt1() *writtenAt1 {
	w := &writtenAt1{now: at(100 * time.Hour)}
	full := newUser(1)
	bare := store.User{ID: uuid.NewString(), Email: "bare@example.com", Metadata: json.RawMessage(`{}`), Disabled: true,
		CreatedAt: at(time.Hour), UpdatedAt: at(time.Hour)}
	now := w.now
	// Rotated twice: its first token and the one that replaced it are
	// still recognised.
	rotated := newSession(full.ID, 90)
	rotated.ExpiresAt = now.Add(24 * time.Hour)
	hashes := [][]byte{rotated.RefreshHash, hash("upgrade/1"), hash("upgrade/2")}
	rotated.ParentHash, rotated.RefreshHash = hashes[1], hashes[2]
	rotated.RotatedAt, rotated.LastActiveAt, rotated.Generation = now.Add(-time.Hour), now.Add(-time.Hour), 2
	revoked := newSession(full.ID, 91)
	revoked.RevokedAt = at(92 * time.Hour)
	revoked.AMR, revoked.AAL = []string{"pwd", "otp"}, "aal2"
	expired := newSession(bare.ID, 1)
	expired.ExpiresAt = at(2 * time.Hour)
	expired.AMR, expired.UserAgent, expired.IP, expired.AAL = nil, "", "", ""
	hashes = append(hashes, revoked.RefreshHash, expired.RefreshHash)
	for _, ss := range []*store.Session{&rotated, &revoked, &expired} {
		ss.AuthTime, ss.IDP = time.Time{}, "" // no columns at version 1
	}
	current, previous := newKey(1, store.KeyCurrent), newKey(0, store.KeyPrevious)
	current.ActivatedAt = at(time.Hour)
	previous.ActivatedAt, previous.DeactivateAt, previous.RetireAt = at(0), at(time.Hour), at(2*time.Hour)
	w.throttleKeys = []string{"account:user1@example.com", "ip:192.0.2.1"}
	w.rows = Rows1{
		Users:    []store.User{full, bare},
		Sessions: []store.Session{rotated, revoked, expired},
		RefreshTokens: []RefreshToken1{
			{hashes[0], rotated.ID, rotated.CreatedAt},
			{hashes[1], rotated.ID, now.Add(-2 * time.Hour)},
			{hashes[2], rotated.ID, rotated.RotatedAt},
			{hashes[3], revoked.ID, revoked.CreatedAt},
			{hashes[4], expired.ID, expired.CreatedAt},
		},
		Keys: []store.SigningKey{previous, current},
		Throttles: []store.Throttle{
			{Key: w.throttleKeys[0], Failures: 7, LastFailureAt: now.Add(-time.Minute), BlockedUntil: now.Add(time.Hour)},
			{Key: w.throttleKeys[1], Failures: 1, LastFailureAt: at(time.Hour)},
		},
	}
	w.full, w.bare = full, bare
	w.rotated, w.revoked, w.expired = rotated, revoked, expired
	w.hashes = hashes
	w.previous, w.current = previous, current

	w.changeTok = newToken(full, store.PurposeEmailChange, 1)
	w.changeTok.UsedAt, w.changeTok.Attempts = at(30*time.Minute), 3
	w.verifyTok = newToken(full, store.PurposeVerify, 2)
	w.verifyTok.CodeHash = nil
	w.verifyTok2 = newToken(full, store.PurposeVerify, 4)
	w.otpTok = newToken(bare, store.PurposeOTP, 3)
	w.tokens = []store.OneTimeToken{w.changeTok, w.verifyTok, w.verifyTok2, w.otpTok}

	w.wantUsers = []store.User{stored(full), stored(bare)}
	w.sessionUser = map[string]store.User{full.ID: w.wantUsers[0], bare.ID: w.wantUsers[1]}
	w.wantFull = w.wantUsers[0]
	return w
}

// checkUsersAndSessions reads back the users, the sessions and every
// refresh hash written at version 1.
func (w *writtenAt1) checkUsersAndSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i, u := range w.rows.Users {
		got := mustGet(t, "GetUser", s.GetUser, u.ID)
		diff(t, fmt.Sprintf("GetUser(user %d written at version 1)", i), got, w.wantUsers[i])
		got, err := s.GetUserByEmail(ctx, u.Email)
		must(t, "GetUserByEmail", err)
		diff(t, fmt.Sprintf("GetUserByEmail(user %d written at version 1)", i), got, w.wantUsers[i])
	}
	for _, ss := range w.rows.Sessions {
		got := mustGet(t, "GetSession", s.GetSession, ss.ID)
		diff(t, "GetSession(session written at version 1)", got, stored(ss))
		gotS, gotU, err := s.GetSessionWithUser(ctx, ss.ID)
		must(t, "GetSessionWithUser", err)
		diff(t, "GetSessionWithUser(session written at version 1): session", gotS, stored(ss))
		diff(t, "GetSessionWithUser(session written at version 1): user", gotU, w.sessionUser[ss.UserID])
	}
	bySession := map[string]store.Session{}
	for _, ss := range w.rows.Sessions {
		bySession[ss.ID] = stored(ss)
	}
	for i, rt := range w.rows.RefreshTokens {
		got, err := s.GetSessionByRefreshHash(ctx, rt.Hash)
		if err != nil {
			t.Fatalf("GetSessionByRefreshHash(hash %d): %v", i, err)
		}
		diff(t, fmt.Sprintf("GetSessionByRefreshHash(hash %d written at version 1)", i), got, bySession[rt.SessionID])
	}
	for _, c := range []struct {
		user store.User
		want []store.Session
	}{
		{w.full, []store.Session{stored(w.rotated)}}, // revoked is not listed
		{w.bare, []store.Session{stored(w.expired)}}, // expired is
	} {
		got, err := s.ListSessions(ctx, c.user.ID)
		must(t, "ListSessions", err)
		diff(t, "ListSessions("+c.user.Email+")", got, c.want)
	}
}

// checkKeysThrottlesAndTokens reads back the signing keys and throttles
// written at version 1 and the tokens written at version 3.
func (w *writtenAt1) checkKeysThrottlesAndTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	keys, err := s.ListSigningKeys(ctx)
	must(t, "ListSigningKeys", err)
	diff(t, "ListSigningKeys after migrating from version 1", keys, []store.SigningKey{stored(w.previous), stored(w.current)})
	ths, err := s.GetThrottles(ctx, w.throttleKeys)
	must(t, "GetThrottles", err)
	sortThrottles(ths)
	diff(t, "GetThrottles after migrating from version 1", ths, []store.Throttle{stored(w.rows.Throttles[0]), stored(w.rows.Throttles[1])})
	for _, tok := range w.tokens {
		got, u, err := peek(t, s, tok.Hash)
		must(t, "UseOneTimeToken(token written at version 3)", err)
		diff(t, "token written at version 3", got, stored(tok))
		diff(t, "user of a token written at version 3", u, w.sessionUser[tok.UserID])
	}
	for _, c := range []struct {
		user    store.User
		purpose store.TokenPurpose
		want    []store.OneTimeToken
	}{
		{w.full, store.PurposeVerify, []store.OneTimeToken{stored(w.verifyTok2), stored(w.verifyTok)}},
		{w.full, store.PurposeEmailChange, nil}, // used
		{w.bare, store.PurposeOTP, []store.OneTimeToken{stored(w.otpTok)}},
	} {
		got, err := s.ListOneTimeTokens(ctx, c.user.ID, c.purpose)
		must(t, "ListOneTimeTokens", err)
		diff(t, fmt.Sprintf("ListOneTimeTokens(%s, %s)", c.user.Email, c.purpose), got, c.want)
	}
}

// checkCleanUps runs the clean-ups and the counts on the old sessions
// and throttles.
func (w *writtenAt1) checkCleanUps(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := w.now
	if n, err := s.CountActiveSessions(ctx, now, now.Add(-48*time.Hour)); err != nil || n != 1 {
		t.Errorf("CountActiveSessions = %d, %v; want 1 (the rotated session), nil", n, err)
	}
	if n, err := s.DeleteEndedSessions(ctx, now, now, now.Add(-48*time.Hour)); err != nil || n != 2 {
		t.Errorf("DeleteEndedSessions = %d, %v; want 2 (revoked and expired), nil", n, err)
	}
	for _, h := range w.hashes[3:] {
		if _, err := s.GetSessionByRefreshHash(ctx, h); !isNotFound(err) {
			t.Errorf("GetSessionByRefreshHash(hash of an ended session): got %v, want ErrNotFound", err)
		}
	}
	if n, err := s.DeleteThrottlesBefore(ctx, now.Add(-time.Hour)); err != nil || n != 1 {
		t.Errorf("DeleteThrottlesBefore = %d, %v; want 1, nil", n, err)
	}
	var seen []store.Throttle
	if _, err := s.UpdateThrottles(ctx, w.throttleKeys, func(locked []store.Throttle) error {
		seen = append(seen, locked...)
		for i := range locked {
			locked[i] = store.Throttle{Key: locked[i].Key}
		}
		return nil
	}); err != nil {
		t.Fatalf("UpdateThrottles: %v", err)
	}
	diff(t, "UpdateThrottles(an old row and a deleted one): rows fn saw", seen,
		[]store.Throttle{stored(w.rows.Throttles[0]), {Key: w.throttleKeys[1]}})
	if got, err := s.GetThrottles(ctx, w.throttleKeys); err != nil || len(got) != 0 {
		t.Errorf("GetThrottles after UpdateThrottles left both rows zero = %d rows, %v; want 0, nil", len(got), err)
	}
}

// checkCredentialEpoch: the old rows meet the credential epoch, 0 until
// raised.
func (w *writtenAt1) checkCredentialEpoch(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := w.now
	early := newSession(w.full.ID, 95)
	early.AuthTime = at(95 * time.Hour)
	must(t, "CreateSession(epoch 0 on a user written at version 1)", s.CreateSession(ctx, early))
	gotUser, err := s.UpdateUser(ctx, w.full.ID, func(u *store.User) error { u.CredentialEpoch++; return nil })
	must(t, "UpdateUser", err)
	w.wantFull.CredentialEpoch = 1
	diff(t, "user written at version 1 with its epoch raised", gotUser, w.wantFull)
	if err := s.CreateSession(ctx, newSession(w.full.ID, 96)); !errors.Is(err, store.ErrStale) {
		t.Errorf("CreateSession(epoch 0 after the user's was raised): got %v, want ErrStale", err)
	}
	if n, err := s.RevokeSessions(ctx, w.full.ID, w.rotated.ID, now); err != nil || n != 1 {
		t.Errorf("RevokeSessions = %d, %v; want 1 (the session made at epoch 0), nil", n, err)
	}
	got, err := s.UpdateSession(ctx, w.rotated.ID, func(ss *store.Session) error {
		ss.AuthTime, ss.CredentialEpoch = now, 1
		return nil
	})
	wantRotated := stored(w.rotated)
	wantRotated.AuthTime, wantRotated.CredentialEpoch = now.Truncate(micro), 1
	must(t, "UpdateSession", err)
	diff(t, "session written at version 1 with AuthTime and epoch set", got, wantRotated)
}

// checkRebuiltTokens: spending one of the old verify tokens uses up its
// unused sibling, and the rebuilt table keeps its constraints and takes
// the new purpose.
func (w *writtenAt1) checkRebuiltTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := w.now
	if _, _, err := s.UseOneTimeToken(ctx, w.verifyTok.Hash, useOnce(now)); err != nil {
		t.Fatalf("UseOneTimeToken(token written at version 3): %v", err)
	}
	w.wantFull.UpdatedAt = now.Truncate(micro)
	sibling, _ := mustPeek(t, s, w.verifyTok2.Hash)
	wantSibling := stored(w.verifyTok2)
	wantSibling.UsedAt = now.Truncate(micro)
	diff(t, "unused verify token written at version 3, after its sibling was spent", sibling, wantSibling)
	dup := newToken(w.full, store.PurposeVerify, 5)
	dup.Hash = w.changeTok.Hash
	wantErr(t, "CreateOneTimeToken(hash of a token written at version 3)", s.CreateOneTimeToken(ctx, dup), store.ErrAlreadyExists)
	revert := newToken(w.full, store.PurposeEmailRevert, 6)
	revert.NewEmail, revert.SessionID = "new6@example.com", w.rotated.ID
	w.revert = mustCreateToken(t, s, revert)
	if got, _, err := peek(t, s, w.revert.Hash); err != nil {
		t.Errorf("UseOneTimeToken(email_revert token): %v", err)
	} else {
		diff(t, "email_revert token", got, w.revert)
	}
}

// checkDeleteUser: a user written at version 1 takes new audit events,
// tokens, second factors and mail, and deleting it takes them all, with
// the tokens written before the table was rebuilt.
func (w *writtenAt1) checkDeleteUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	now, full := w.now, w.full
	e := newEvent(1, "signup", full.ID)
	e.SessionID = w.rotated.ID
	want := mustAppend(t, s, e)
	tok := mustCreateToken(t, s, newToken(full, store.PurposeVerify, 1))
	if got, u, err := peek(t, s, tok.Hash); err != nil {
		t.Errorf("UseOneTimeToken(token of a user created at version 1): %v", err)
	} else {
		diff(t, "token of a user created at version 1", got, tok)
		diff(t, "user created at version 1, seen with its token", u, w.wantFull)
	}
	// A user written at version 1 takes second factors.
	key := mustCreateFactor(t, s, newFactor(full.ID, store.FactorWebAuthn, 1))
	_, gotKey, err := s.VerifyFactor(ctx, key.ID, func(_ *store.User, f *store.Factor, _ []store.Factor) error {
		f.VerifiedAt, f.CredentialID = now, credential(key.ID)
		return nil
	})
	must(t, "VerifyFactor(factor of a user created at version 1)", err)
	wantFactors(t, s, "user created at version 1", full.ID, gotKey)
	mail := mailModel{mustEnqueue(t, s, newMail(1, full.ID))}
	must(t, "DeleteUser", s.DeleteUser(ctx, full.ID))
	wantNoFactor(t, s, "factor of a deleted user created at version 1", key.ID, gotKey.CredentialID)
	// The cascade reaches the tokens written before the table was
	// rebuilt, and the ones written after.
	for _, h := range [][]byte{tok.Hash, w.changeTok.Hash, w.verifyTok.Hash, w.revert.Hash} {
		if _, _, err := peek(t, s, h); !isNotFound(err) {
			t.Errorf("UseOneTimeToken(token of a deleted user): got %v, want ErrNotFound", err)
		}
	}
	if _, err := s.GetSession(ctx, w.rotated.ID); !isNotFound(err) {
		t.Errorf("GetSession(session of a deleted user): got %v, want ErrNotFound", err)
	}
	claimed, err := s.ClaimMail(ctx, now, now.Add(time.Hour), 10)
	must(t, "ClaimMail", err)
	diff(t, "mail for a deleted user", claimed, mail.claim(now, now.Add(time.Hour), 10))
	events, err := s.ListAudit(ctx, store.ListAuditOptions{UserID: full.ID})
	must(t, "ListAudit", err)
	diff(t, "audit of a user created at version 1", events, []store.AuditEvent{want})
	if got, err := s.GetUser(ctx, w.bare.ID); err != nil {
		t.Errorf("GetUser(the other user): %v", err)
	} else {
		diff(t, "the other user after DeleteUser", got, w.wantUsers[1])
	}
}
