package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/latchauth/latch/internal/store"
)

// The browser flow's storage: sessions' kind and parent, and the
// AuthCodes role.

func newCode(u store.User, browser store.Session, n int) store.AuthCode {
	return store.AuthCode{
		Hash:        hash(uuid.NewString()),
		UserID:      u.ID,
		SessionID:   browser.ID,
		RedirectURI: "https://app.example.com/callback",
		Challenge:   "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		CreatedAt:   at(time.Duration(n) * time.Minute),
		ExpiresAt:   at(time.Duration(n)*time.Minute + time.Minute),
	}
}

// browserSession creates a user and a browser session of theirs.
func browserSession(t *testing.T, s store.Store, n int) (store.User, store.Session) {
	t.Helper()
	u := mustCreateUser(t, s, newUser(n))
	b := newSession(u.ID, n)
	b.Kind = store.SessionBrowser
	return u, mustCreateSession(t, s, b)
}

func testSessionKindAndParent(t *testing.T, s store.Store) {
	ctx := t.Context()
	u, browser := browserSession(t, s, 1)
	app := newSession(u.ID, 2)
	app.ParentID = browser.ID
	mustCreateSession(t, s, app)
	diff(t, "GetSession(browser)", mustGet(t, "GetSession", s.GetSession, browser.ID), stored(browser))
	diff(t, "GetSession(app)", mustGet(t, "GetSession", s.GetSession, app.ID), stored(app))
	got, err := s.GetSessionByRefreshHash(ctx, browser.RefreshHash)
	if err != nil || got.Kind != store.SessionBrowser {
		t.Fatalf("GetSessionByRefreshHash(browser): %v, %v", got.Kind, err)
	}
	list, err := s.ListSessions(ctx, u.ID)
	if err != nil || len(list) != 2 || list[0].ParentID != browser.ID || list[1].Kind != store.SessionBrowser {
		t.Fatalf("ListSessions: %+v, %v", list, err)
	}

	// An empty kind is an app session's; an unknown one is refused.
	old := newSession(u.ID, 3)
	old.Kind = ""
	mustCreateSession(t, s, old)
	if got := mustGet(t, "GetSession", s.GetSession, old.ID); got.Kind != store.SessionApp {
		t.Errorf("a session created without a kind reads back as %q", got.Kind)
	}
	bad := newSession(u.ID, 4)
	bad.Kind = "robot"
	wantErr(t, "CreateSession(kind robot)", s.CreateSession(ctx, bad), store.ErrInvalidKind)
	orphan := newSession(u.ID, 5)
	orphan.ParentID = "not a uuid"
	wantErr(t, "CreateSession(parent not a UUID)", s.CreateSession(ctx, orphan), store.ErrInvalidID)

	// Neither changes once the session exists.
	for name, fn := range map[string]func(*store.Session) error{
		"kind":   func(x *store.Session) error { x.Kind = store.SessionApp; return nil },
		"parent": func(x *store.Session) error { x.ParentID = uuid.NewString(); return nil },
	} {
		if _, err := s.UpdateSession(ctx, browser.ID, fn); err == nil {
			t.Errorf("UpdateSession changed the %s", name)
		}
	}
}

func testAuthCodeRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	u, browser := browserSession(t, s, 1)
	c := newCode(u, browser, 1)
	if err := s.CreateAuthCode(ctx, c); err != nil {
		t.Fatalf("CreateAuthCode: %v", err)
	}
	got, err := s.GetAuthCode(ctx, c.Hash)
	if err != nil {
		t.Fatalf("GetAuthCode: %v", err)
	}
	diff(t, "GetAuthCode", got, stored(c))

	// Deleting the user deletes its codes.
	if err := s.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetAuthCode(ctx, c.Hash); !isNotFound(err) {
		t.Errorf("GetAuthCode after DeleteUser: %v, want ErrNotFound", err)
	}
}

func testAuthCodeErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	u, browser := browserSession(t, s, 1)
	c := newCode(u, browser, 1)
	if err := s.CreateAuthCode(ctx, c); err != nil {
		t.Fatalf("CreateAuthCode: %v", err)
	}
	wantErr(t, "CreateAuthCode(same hash)", s.CreateAuthCode(ctx, c), store.ErrAlreadyExists)
	ghost := newCode(store.User{ID: uuid.NewString()}, browser, 2)
	wantErr(t, "CreateAuthCode(unknown user)", s.CreateAuthCode(ctx, ghost), store.ErrNotFound)
	for name, edit := range map[string]func(*store.AuthCode){
		"no hash":         func(c *store.AuthCode) { c.Hash = nil },
		"no redirect URI": func(c *store.AuthCode) { c.RedirectURI = "" },
		"no challenge":    func(c *store.AuthCode) { c.Challenge = "" },
		"no expiry":       func(c *store.AuthCode) { c.ExpiresAt = time.Time{} },
		"bad session id":  func(c *store.AuthCode) { c.SessionID = "x" },
	} {
		bad := newCode(u, browser, 3)
		edit(&bad)
		wantFailure(t, "CreateAuthCode("+name+")", s.CreateAuthCode(ctx, bad), nil)
	}
	if _, err := s.GetAuthCode(ctx, hash("nothing")); !isNotFound(err) {
		t.Errorf("GetAuthCode(unknown): %v, want ErrNotFound", err)
	}
	if _, err := s.RedeemAuthCode(ctx, hash("nothing"), appSession(u, browser, 9)); !isNotFound(err) {
		t.Errorf("RedeemAuthCode(unknown): %v, want ErrNotFound", err)
	}
	// A session the store refuses leaves the code unspent.
	stale := appSession(u, browser, 10)
	stale.CredentialEpoch = 7
	wantErr(t, "RedeemAuthCode(stale session)", func() error { _, err := s.RedeemAuthCode(ctx, c.Hash, stale); return err }(), store.ErrStale)
	if got, err := s.GetAuthCode(ctx, c.Hash); err != nil || !got.UsedAt.IsZero() {
		t.Errorf("the code after a refused redemption: %+v, %v", got, err)
	}
	checkNoSession(t, s, stale)
}

// appSession is an app session of u made from browser.
func appSession(u store.User, browser store.Session, n int) store.Session {
	a := newSession(u.ID, n)
	a.ParentID = browser.ID
	return a
}

// Of many concurrent redemptions of one code exactly one creates its
// session; the others write nothing and see the code used by the
// winner's session.
func testRedeemAuthCodeOnce(t *testing.T, s store.Store) {
	ctx := t.Context()
	u, browser := browserSession(t, s, 1)
	c := newCode(u, browser, 1)
	if err := s.CreateAuthCode(ctx, c); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []store.Session
		losers  []store.Session
		seen    = map[string]bool{}
	)
	for i := range n {
		wg.Go(func() {
			a := appSession(u, browser, 2+i)
			before, err := s.RedeemAuthCode(ctx, c.Hash, a)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Errorf("RedeemAuthCode: %v", err)
			case before.UsedAt.IsZero():
				winners = append(winners, a)
			default:
				losers = append(losers, a)
				seen[before.IssuedID] = true
			}
		})
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("%d redemptions found the code unused, want 1", len(winners))
	}
	w := winners[0]
	for id := range seen {
		if id != w.ID {
			t.Errorf("a losing redemption saw issuer %s, want the winner %s", id, w.ID)
		}
	}
	for _, l := range losers {
		checkNoSession(t, s, l)
	}
	diff(t, "the winner's session", mustGet(t, "GetSession", s.GetSession, w.ID), stored(w))
	got, err := s.GetAuthCode(ctx, c.Hash)
	if err != nil || got.IssuedID != w.ID || !got.UsedAt.Equal(w.CreatedAt.Truncate(time.Microsecond)) {
		t.Fatalf("GetAuthCode after redeeming: %+v, %v; winner %s", got, err, w.ID)
	}
}

func testDeleteAuthCodesBefore(t *testing.T, s store.Store) {
	ctx := t.Context()
	u, browser := browserSession(t, s, 1)
	var codes []store.AuthCode
	for i := range 3 {
		c := newCode(u, browser, i*10)
		if err := s.CreateAuthCode(ctx, c); err != nil {
			t.Fatal(err)
		}
		codes = append(codes, c)
	}
	if n, err := s.DeleteAuthCodesBefore(ctx, time.Time{}); err != nil || n != 0 {
		t.Errorf("DeleteAuthCodesBefore(zero): %d, %v", n, err)
	}
	// Codes 0 and 1 expire at 1 and 11 minutes; 2 at 21.
	n, err := s.DeleteAuthCodesBefore(ctx, at(15*time.Minute))
	if err != nil || n != 2 {
		t.Fatalf("DeleteAuthCodesBefore: %d, %v; want 2", n, err)
	}
	for i, c := range codes {
		_, err := s.GetAuthCode(ctx, c.Hash)
		if gone := errors.Is(err, store.ErrNotFound); gone != (i < 2) {
			t.Errorf("code %d: gone %v", i, gone)
		}
	}
}
