package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/latchauth/latch/internal/store"
)

// newEvent returns an audit event at t0 plus n minutes with every field
// set, except ID.
func newEvent(n int, typ, userID string) store.AuditEvent {
	return store.AuditEvent{
		Time:      at(time.Duration(n) * time.Minute),
		Type:      typ,
		UserID:    userID,
		SessionID: uuid.NewString(),
		IP:        "2001:db8::7",
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64) storetest",
		Detail:    json.RawMessage(fmt.Sprintf(`{"n": %d, "reason": "bad password", "tags": ["a", "b"]}`, n)),
	}
}

// mustAppend appends e and returns it as the store gives it back: with
// the assigned id and its times truncated.
func mustAppend(t *testing.T, s store.Store, e store.AuditEvent) store.AuditEvent {
	t.Helper()
	id, err := s.AppendAudit(t.Context(), e)
	must(t, "AppendAudit", err)
	e = stored(e)
	e.ID = id
	return e
}

// listAllAudit pages through ListAudit with opts (its Before ignored) and
// returns every event it selects.
func listAllAudit(t *testing.T, s store.Store, opts store.ListAuditOptions) []store.AuditEvent {
	t.Helper()
	var all []store.AuditEvent
	opts.Before = 0
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatalf("ListAudit(%+v): paging does not end", opts)
		}
		page, err := s.ListAudit(t.Context(), opts)
		if err != nil {
			t.Fatalf("ListAudit(%+v): %v", opts, err)
		}
		all = append(all, page...)
		limit := opts.Limit
		if limit <= 0 {
			limit = 100
		}
		if len(page) < limit {
			return all
		}
		opts.Before = page[len(page)-1].ID
	}
}

func testAuditRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	if got, err := s.ListAudit(ctx, store.ListAuditOptions{}); err != nil || got != nil {
		t.Fatalf("ListAudit(empty store) = %v, %v; want nil, nil", got, err)
	}

	full := newEvent(1, "login.success", uuid.NewString())

	// A failed login for an unknown email: no user, no session, no detail.
	bare := store.AuditEvent{Time: at(2 * time.Minute), Type: "login.failure"}

	emptyDetail := newEvent(3, "logout", uuid.NewString())
	emptyDetail.Detail = json.RawMessage{}
	wantEmptyDetail := stored(emptyDetail)
	wantEmptyDetail.Detail = nil

	// Ids in another accepted spelling are stored in canonical form.
	upper := newEvent(4, "session.revoke", "")
	userID, sessionID := uuid.NewString(), uuid.NewString()
	upper.UserID = "{" + strings.ToUpper(userID) + "}"
	upper.SessionID = strings.ToUpper(sessionID)
	wantUpper := stored(upper)
	wantUpper.UserID, wantUpper.SessionID = userID, sessionID

	// The store assigns the id; whatever the caller put there is ignored.
	withID := newEvent(5, "key.rotate", "")
	withID.ID = 1 << 40

	// Events are not bound to rows: a user and a session that never
	// existed are recorded as given.
	tests := []struct {
		name string
		in   store.AuditEvent
		want store.AuditEvent // ID: the one AppendAudit returns
	}{
		{"every field set", full, stored(full)},
		{"no user, session, address or detail", bare, stored(bare)},
		{"empty detail", emptyDetail, wantEmptyDetail},
		{"non-canonical ids", upper, wantUpper},
		{"id given", withID, stored(withID)},
	}
	var prev int64
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := s.AppendAudit(ctx, tt.in)
			wantNextID(t, "AppendAudit", id, err, &prev)
			got, err := s.ListAudit(ctx, store.ListAuditOptions{Limit: 1})
			must(t, "ListAudit", err)
			want := tt.want
			want.ID = id
			diff(t, "newest event", got, []store.AuditEvent{want})
		})
	}
}

func testAppendAuditErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	first := mustAppend(t, s, newEvent(1, "signup", uuid.NewString()))
	tests := []struct {
		name   string
		change func(*store.AuditEvent)
	}{
		{"zero time", func(e *store.AuditEvent) { e.Time = time.Time{} }},
		{"no type", func(e *store.AuditEvent) { e.Type = "" }},
		{"malformed user id", func(e *store.AuditEvent) { e.UserID = "nope" }},
		{"malformed session id", func(e *store.AuditEvent) { e.SessionID = "nope" }},
		{"detail not JSON", func(e *store.AuditEvent) { e.Detail = json.RawMessage(`{"a":`) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEvent(2, "login.success", uuid.NewString())
			tt.change(&e)
			if id, err := s.AppendAudit(ctx, e); err == nil {
				t.Errorf("AppendAudit = %d, nil; want an error", id)
			}
			got, err := s.ListAudit(ctx, store.ListAuditOptions{})
			must(t, "ListAudit", err)
			diff(t, "events after a refused append", got, []store.AuditEvent{first})
		})
	}
}

func testListAudit(t *testing.T, s store.Store) {
	u1, u2 := uuid.NewString(), uuid.NewString()
	users := []string{u1, u2, ""}
	all := appendListAuditEvents(t, s, users)
	since := at(50 * time.Minute)
	pivot := all[40].ID

	filter := func(keep func(e store.AuditEvent) bool) []store.AuditEvent {
		var out []store.AuditEvent
		for _, e := range all {
			if keep(e) {
				out = append(out, e)
			}
		}
		return out
	}
	notBefore := func(e store.AuditEvent) bool { return !e.Time.Before(since.Truncate(time.Microsecond)) }

	tests := []struct {
		name string
		opts store.ListAuditOptions
		want []store.AuditEvent // every event selected, newest first
	}{
		{"everything", store.ListAuditOptions{}, all},
		{"one user", store.ListAuditOptions{UserID: u1}, filter(func(e store.AuditEvent) bool { return e.UserID == u1 })},
		{"one user, spelt in capitals", store.ListAuditOptions{UserID: strings.ToUpper(u2)},
			filter(func(e store.AuditEvent) bool { return e.UserID == u2 })},
		{"one type", store.ListAuditOptions{Type: "logout"}, filter(func(e store.AuditEvent) bool { return e.Type == "logout" })},
		{"since, inclusive", store.ListAuditOptions{Since: since}, filter(notBefore)},
		{"since, a microsecond later", store.ListAuditOptions{Since: since.Add(time.Microsecond)},
			filter(func(e store.AuditEvent) bool { return notBefore(e) && !e.Time.Equal(since.Truncate(time.Microsecond)) })},
		{"before an id", store.ListAuditOptions{Before: pivot}, filter(func(e store.AuditEvent) bool { return e.ID < pivot })},
		{"user, type and since", store.ListAuditOptions{UserID: u2, Type: "login.failure", Since: since},
			filter(func(e store.AuditEvent) bool { return e.UserID == u2 && e.Type == "login.failure" && notBefore(e) })},
		{"unknown user", store.ListAuditOptions{UserID: uuid.NewString()}, nil},
		{"malformed user id", store.ListAuditOptions{UserID: "nope"}, nil},
		{"unknown type", store.ListAuditOptions{Type: "nope"}, nil},
		{"before the first id", store.ListAuditOptions{Before: all[len(all)-1].ID}, nil},
	}
	// "since, a microsecond later" tests nothing unless one event is at
	// exactly since.
	if exact := filter(func(e store.AuditEvent) bool { return e.Time.Equal(since.Truncate(time.Microsecond)) }); len(exact) != 1 {
		t.Fatalf("%d events at exactly %v, want 1", len(exact), since)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkListAudit(t, s, tt.opts, tt.want) })
	}
}

// listAuditEvents is how many events testListAudit appends: more than
// the default limit.
const listAuditEvents = 105

// appendListAuditEvents appends testListAudit's events, of users in turn,
// with times that do not follow the ids: the order is by id alone, while
// Since looks at the time. It returns them newest first.
func appendListAuditEvents(t *testing.T, s store.Store, users []string) []store.AuditEvent {
	t.Helper()
	const n = listAuditEvents
	types := []string{"login.success", "login.failure", "logout", "refresh.reuse"}
	var all []store.AuditEvent
	for i := range n {
		e := newEvent(i*37%n, types[i%len(types)], users[i%len(users)])
		all = append(all, mustAppend(t, s, e))
	}
	slices.Reverse(all)
	return all
}

// checkListAudit checks ListAudit(opts) against want, every event that
// opts selects, newest first: with the default limit and paged.
func checkListAudit(t *testing.T, s store.Store, opts store.ListAuditOptions, want []store.AuditEvent) {
	ctx := t.Context()
	const n = listAuditEvents
	// Limit 0 is 100.
	got, err := s.ListAudit(ctx, opts)
	must(t, "ListAudit", err)
	first := want
	if len(first) > 100 {
		first = first[:100]
	}
	if len(first) == 0 {
		if got != nil {
			t.Errorf("ListAudit = %d events, want nil", len(got))
		}
		return
	}
	diff(t, "ListAudit, default limit", got, first)

	// Paged from the Before the case gives, as a caller resuming
	// from a cursor would.
	// 3 and 35 divide n: the last page is full, and the next one
	// empty.
	for _, limit := range []int{3, 35, n, n + 1} {
		opts := opts
		opts.Limit = limit
		paged := pageThrough(t, "ListAudit", limit, n, func(last *store.AuditEvent) ([]store.AuditEvent, error) {
			if last != nil {
				opts.Before = last.ID
			}
			return s.ListAudit(ctx, opts)
		})
		diff(t, fmt.Sprintf("pages with limit %d", limit), paged, want)
	}
}

func testDeleteAuditBefore(t *testing.T, s store.Store) {
	ctx := t.Context()
	cut := at(time.Hour)
	var old, kept []store.AuditEvent
	for i := range 5 {
		old = append(old, mustAppend(t, s, newEvent(i, "login.success", uuid.NewString())))
	}
	edge := []struct {
		at   time.Time
		kept bool
	}{
		{cut.Add(-time.Microsecond), false},
		{cut, true},
		{cut.Add(time.Microsecond), true},
		{cut.Add(time.Hour), true},
	}
	for _, ed := range edge {
		e := newEvent(0, "logout", uuid.NewString())
		e.Time = ed.at
		e = mustAppend(t, s, e)
		if ed.kept {
			kept = append(kept, e)
		} else {
			old = append(old, e)
		}
	}
	// Events are not in time order by id: an old one appended late goes
	// too.
	late := newEvent(2, "key.rotate", "")
	old = append(old, mustAppend(t, s, late))
	slices.Reverse(kept)

	wantDeleted(t, "DeleteAuditBefore(zero time)", s.DeleteAuditBefore, time.Time{}, 0)
	n, err := s.DeleteAuditBefore(ctx, cut)
	must(t, "DeleteAuditBefore", err)
	if n != int64(len(old)) {
		t.Errorf("DeleteAuditBefore = %d, want %d", n, len(old))
	}
	diff(t, "events after DeleteAuditBefore", listAllAudit(t, s, store.ListAuditOptions{}), kept)
	wantDeleted(t, "DeleteAuditBefore again", s.DeleteAuditBefore, cut, 0)

	// Deleting everything, the newest included, does not make the store
	// hand out an id again.
	n, err = s.DeleteAuditBefore(ctx, at(1000*time.Hour))
	if err != nil || n != int64(len(kept)) {
		t.Errorf("DeleteAuditBefore(future) = %d, %v; want %d, nil", n, err, len(kept))
	}
	if got, err := s.ListAudit(ctx, store.ListAuditOptions{}); err != nil || got != nil {
		t.Errorf("ListAudit after deleting everything = %d events, %v; want nil, nil", len(got), err)
	}
	next := mustAppend(t, s, newEvent(9, "signup", ""))
	if newest := kept[0].ID; next.ID <= newest {
		t.Errorf("id after deleting every event = %d, want more than the last one issued (%d)", next.ID, newest)
	}
}

func testAuditSurvivesDeleteUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	doomed, kept := twoUsers(t, s)
	sess := mustCreateSession(t, s, newSession(doomed.ID, 1))
	var want []store.AuditEvent
	for i, typ := range []string{"signup", "login.success", "admin.user.disable"} {
		e := newEvent(i, typ, doomed.ID)
		e.SessionID = sess.ID
		want = append(want, mustAppend(t, s, e))
	}
	slices.Reverse(want)
	other := mustAppend(t, s, newEvent(5, "signup", kept.ID))

	must(t, "DeleteUser", s.DeleteUser(ctx, doomed.ID))
	got, err := s.ListAudit(ctx, store.ListAuditOptions{UserID: doomed.ID})
	must(t, "ListAudit", err)
	diff(t, "deleted user's events", got, want)
	got, err = s.ListAudit(ctx, store.ListAuditOptions{UserID: kept.ID})
	must(t, "ListAudit", err)
	diff(t, "other user's events", got, []store.AuditEvent{other})
}
