package storetest

import (
	"testing"

	"github.com/google/uuid"

	"github.com/latchauth/latch/internal/store"
)

// The browser flow's storage: sessions' kind and parent.

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
