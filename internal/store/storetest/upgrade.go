package storetest

import (
	"context"
	"encoding/json"
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
}

// MigrateTo applies a backend's embedded migrations up to and including
// version, and no further.
type MigrateTo func(ctx context.Context, version int64) error

// RunUpgrade checks that a database written by an older latch keeps every
// row through the migrations that follow. open must return a store on a
// new, empty, unmigrated database, and a MigrateTo for it; RunUpgrade
// closes the store at the end of the test.
func RunUpgrade(t *testing.T, open func(t *testing.T) (store.Store, MigrateTo)) {
	t.Run("From1", func(t *testing.T) {
		t.Parallel()
		s, migrateTo := open(t)
		testUpgradeFrom1(t, closing(t, s), migrateTo)
	})
}

// snapshot is everything a store holds that version 1 of the schema
// knows, read through the store.
type snapshot struct {
	Users     []store.User
	ByEmail   []store.User
	Sessions  []store.Session
	ByHash    []store.Session
	Listed    [][]store.Session
	Keys      []store.SigningKey
	Throttles []store.Throttle
}

func testUpgradeFrom1(t *testing.T, s store.Store, migrateTo MigrateTo) {
	ctx := t.Context()
	if err := migrateTo(ctx, 1); err != nil {
		t.Fatalf("migrate to version 1: %v", err)
	}
	st, err := s.MigrationStatus(ctx)
	if err != nil {
		t.Fatalf("MigrationStatus: %v", err)
	}
	if st.Current != 1 || st.Latest <= 1 {
		t.Fatalf("MigrationStatus = current %d, latest %d; want 1 and more than 1", st.Current, st.Latest)
	}
	for _, m := range st.Migrations {
		if applied := !m.AppliedAt.IsZero(); applied != (m.Version <= 1) {
			t.Errorf("migration %d applied = %v at version 1", m.Version, applied)
		}
	}

	// Rows of every table version 1 has, with every field set, and the
	// zero and nil values that are stored as NULL.
	full := mustCreateUser(t, s, newUser(1))
	bare := mustCreateUser(t, s, store.User{ID: uuid.NewString(), Email: "bare@example.com", CreatedAt: at(time.Hour), UpdatedAt: at(time.Hour)})
	now := at(100 * time.Hour)
	rotated := newSession(full.ID, 90)
	rotated.ExpiresAt = now.Add(24 * time.Hour)
	mustCreateSession(t, s, rotated)
	hashes := [][]byte{rotated.RefreshHash}
	for i := 1; i <= 2; i++ {
		next := fmt.Sprintf("upgrade/%d", i)
		if _, err := s.UpdateSession(ctx, rotated.ID, rotate(next, now.Add(-time.Duration(3-i)*time.Hour))); err != nil {
			t.Fatalf("UpdateSession: %v", err)
		}
		hashes = append(hashes, hash(next))
	}
	revoked := newSession(full.ID, 91)
	revoked.RevokedAt = at(92 * time.Hour)
	revoked.AMR, revoked.AAL = []string{"pwd", "otp"}, "aal2"
	expired := newSession(bare.ID, 1)
	expired.ExpiresAt = at(2 * time.Hour)
	expired.AMR, expired.UserAgent, expired.IP = nil, "", ""
	for _, ss := range []store.Session{revoked, expired} {
		mustCreateSession(t, s, ss)
		hashes = append(hashes, ss.RefreshHash)
	}
	current, previous := newKey(1, store.KeyCurrent), newKey(0, store.KeyPrevious)
	current.ActivatedAt = at(time.Hour)
	previous.ActivatedAt, previous.DeactivateAt, previous.RetireAt = at(0), at(time.Hour), at(2*time.Hour)
	if err := s.UpdateSigningKeys(ctx, func([]store.SigningKey) ([]store.SigningKey, error) {
		return []store.SigningKey{previous, current}, nil
	}); err != nil {
		t.Fatalf("UpdateSigningKeys: %v", err)
	}
	throttleKeys := []string{"account:user1@example.com", "ip:192.0.2.1"}
	for i, th := range []store.Throttle{
		{Key: throttleKeys[0], Failures: 7, LastFailureAt: now.Add(-time.Minute), BlockedUntil: now.Add(time.Hour)},
		{Key: throttleKeys[1], Failures: 1, LastFailureAt: at(time.Hour)},
	} {
		if _, err := s.UpdateThrottle(ctx, th.Key, func(x *store.Throttle) error { *x = th; return nil }); err != nil {
			t.Fatalf("UpdateThrottle %d: %v", i, err)
		}
	}

	take := func() snapshot {
		t.Helper()
		var snap snapshot
		for _, u := range []store.User{full, bare} {
			got, err := s.GetUser(ctx, u.ID)
			if err != nil {
				t.Fatalf("GetUser: %v", err)
			}
			snap.Users = append(snap.Users, got)
			got, err = s.GetUserByEmail(ctx, u.Email)
			if err != nil {
				t.Fatalf("GetUserByEmail: %v", err)
			}
			snap.ByEmail = append(snap.ByEmail, got)
			list, err := s.ListSessions(ctx, u.ID)
			if err != nil {
				t.Fatalf("ListSessions: %v", err)
			}
			snap.Listed = append(snap.Listed, list)
		}
		for _, id := range []string{rotated.ID, revoked.ID, expired.ID} {
			got, err := s.GetSession(ctx, id)
			if err != nil {
				t.Fatalf("GetSession: %v", err)
			}
			snap.Sessions = append(snap.Sessions, got)
		}
		for _, h := range hashes {
			got, err := s.GetSessionByRefreshHash(ctx, h)
			if err != nil {
				t.Fatalf("GetSessionByRefreshHash: %v", err)
			}
			snap.ByHash = append(snap.ByHash, got)
		}
		snap.Keys, err = s.ListSigningKeys(ctx)
		if err != nil {
			t.Fatalf("ListSigningKeys: %v", err)
		}
		snap.Throttles, err = s.GetThrottles(ctx, throttleKeys)
		if err != nil {
			t.Fatalf("GetThrottles: %v", err)
		}
		sortThrottles(snap.Throttles)
		return snap
	}
	before := take()
	diff(t, "users at version 1", before.Users, []store.User{stored(full), func() store.User {
		u := stored(bare)
		u.Metadata = json.RawMessage(`{}`)
		return u
	}()})

	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate from version 1: %v", err)
	}
	st, err = s.MigrationStatus(ctx)
	if err != nil {
		t.Fatalf("MigrationStatus: %v", err)
	}
	checkStatus(t, st, true)
	diff(t, "rows after migrating from version 1", take(), before)

	// The new methods work on the old rows.
	if n, err := s.CountActiveSessions(ctx, now, now.Add(-48*time.Hour)); err != nil || n != 1 {
		t.Errorf("CountActiveSessions = %d, %v; want 1 (the rotated session), nil", n, err)
	}
	if n, err := s.DeleteEndedSessions(ctx, now, now, now.Add(-48*time.Hour)); err != nil || n != 2 {
		t.Errorf("DeleteEndedSessions = %d, %v; want 2 (revoked and expired), nil", n, err)
	}
	for _, h := range hashes[3:] {
		if _, err := s.GetSessionByRefreshHash(ctx, h); !isNotFound(err) {
			t.Errorf("GetSessionByRefreshHash(hash of an ended session): got %v, want ErrNotFound", err)
		}
	}
	if n, err := s.DeleteThrottlesBefore(ctx, now.Add(-time.Hour)); err != nil || n != 1 {
		t.Errorf("DeleteThrottlesBefore = %d, %v; want 1, nil", n, err)
	}
	e := newEvent(1, "signup", full.ID)
	e.SessionID = rotated.ID
	want := mustAppend(t, s, e)
	tok := mustCreateToken(t, s, newToken(full, store.PurposeVerify, 1))
	if got, u, err := peek(t, s, tok.Hash); err != nil {
		t.Errorf("UseOneTimeToken(token of a user created at version 1): %v", err)
	} else {
		diff(t, "token of a user created at version 1", got, tok)
		diff(t, "user created at version 1, seen with its token", u, before.Users[0])
	}
	mail := mailModel{mustEnqueue(t, s, newMail(1, full.ID))}
	if err := s.DeleteUser(ctx, full.ID); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	if _, _, err := peek(t, s, tok.Hash); !isNotFound(err) {
		t.Errorf("UseOneTimeToken(token of a deleted user): got %v, want ErrNotFound", err)
	}
	claimed, err := s.ClaimMail(ctx, now, now.Add(time.Hour), 10)
	if err != nil {
		t.Fatalf("ClaimMail: %v", err)
	}
	diff(t, "mail for a deleted user", claimed, mail.claim(now, now.Add(time.Hour), 10))
	got, err := s.ListAudit(ctx, store.ListAuditOptions{UserID: full.ID})
	if err != nil {
		t.Fatalf("ListAudit: %v", err)
	}
	diff(t, "audit of a user created at version 1", got, []store.AuditEvent{want})
}
