package storetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/latchauth/latch/internal/store"
)

// newMail returns a message created at t0 plus n minutes, valid for a
// day, with every field EnqueueMail takes set except NextAttemptAt.
func newMail(n int, userID string) store.OutboxMessage {
	created := at(time.Duration(n) * time.Minute)
	return store.OutboxMessage{
		Kind:      "verify",
		To:        fmt.Sprintf("user%d@example.com", n),
		UserID:    userID,
		Data:      json.RawMessage(fmt.Sprintf(`{"n": %d, "link_id": "%s", "tags": ["a", "b"]}`, n, uuid.NewString())),
		CreatedAt: created,
		ExpiresAt: created.Add(24 * time.Hour),
	}
}

// enqueued returns m, given to EnqueueMail, as the store must give it
// back: with id, its times truncated, NextAttemptAt defaulted, empty data
// nil, and what EnqueueMail ignores empty.
func enqueued(m store.OutboxMessage, id int64) store.OutboxMessage {
	m = stored(m)
	m.ID = id
	m.Attempts, m.LockedUntil, m.LastError = 0, time.Time{}, ""
	if m.NextAttemptAt.IsZero() {
		m.NextAttemptAt = m.CreatedAt
	}
	if len(m.Data) == 0 {
		m.Data = nil
	}
	return m
}

// mustEnqueue enqueues m and returns it as the store must give it back
// (see enqueued).
func mustEnqueue(t *testing.T, s store.Store, m store.OutboxMessage) store.OutboxMessage {
	t.Helper()
	id, err := s.EnqueueMail(t.Context(), m)
	must(t, "EnqueueMail", err)
	return enqueued(m, id)
}

// mailModel is what an outbox must hold, in id order, so that a test can
// say what ClaimMail must return.
type mailModel []store.OutboxMessage

// claim is ClaimMail on the model.
func (mm mailModel) claim(now, until time.Time, limit int) []store.OutboxMessage {
	if limit <= 0 {
		limit = 10
	}
	now, until = now.Truncate(micro), until.Truncate(micro)
	var out []store.OutboxMessage
	for i := range mm {
		m := &mm[i]
		if len(out) == limit {
			break
		}
		if m.NextAttemptAt.After(now) || m.LockedUntil.After(now) {
			continue
		}
		m.LockedUntil = until
		out = append(out, *m)
	}
	return out
}

// wantCount fails unless CountMail answers n.
func wantCount(t *testing.T, s store.Store, what string, n int64) {
	t.Helper()
	got, err := s.CountMail(t.Context())
	if err != nil || got != n {
		t.Errorf("CountMail %s = %d, %v; want %d, nil", what, got, err, n)
	}
}

func testOutboxRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	wantCount(t, s, "on an empty store", 0)
	if got, err := s.ClaimMail(ctx, at(1000*time.Hour), at(2000*time.Hour), 100); err != nil || got != nil {
		t.Fatalf("ClaimMail(empty store) = %v, %v; want nil, nil", got, err)
	}

	full := newMail(1, uuid.NewString())
	full.NextAttemptAt = at(time.Hour)
	// No user, no data, no NextAttemptAt: due at once.
	bare := store.OutboxMessage{Kind: "recover", To: "bare@example.com", CreatedAt: at(2 * time.Minute), ExpiresAt: at(time.Hour)}
	emptyData := newMail(3, "")
	emptyData.Data = json.RawMessage{}
	// An id in another accepted spelling is stored in canonical form.
	upper := newMail(4, "")
	userID := uuid.NewString()
	upper.UserID = "{" + strings.ToUpper(userID) + "}"
	wantUpper := enqueued(upper, 0)
	wantUpper.UserID = userID
	// What EnqueueMail ignores starts empty.
	ignored := newMail(5, "")
	ignored.ID = 1 << 40
	ignored.Attempts = 7
	ignored.LockedUntil = at(100 * time.Hour)
	ignored.LastError = "550 no such user"
	// Data comes back as equal JSON: whitespace, key order, escapes and
	// characters beyond the BMP.
	fancy := newMail(6, "")
	fancy.Data = json.RawMessage("{\n  \"z\": [1, 2.5, -3e2, true, false, null],\n \"a\": {\"nested\": \"\\u00e9\\u0000 \\ud83d\\ude00 é 😀\"}, \"\": \"\"\n}")
	emptyObject := newMail(7, "")
	emptyObject.Data = json.RawMessage(`{}`)

	tests := []struct {
		name string
		in   store.OutboxMessage
		want store.OutboxMessage // ID: the one EnqueueMail returns
	}{
		{"every field set", full, enqueued(full, 0)},
		{"no user, data or next attempt", bare, enqueued(bare, 0)},
		{"empty data", emptyData, enqueued(emptyData, 0)},
		{"non-canonical user id", upper, wantUpper},
		{"ignored fields set", ignored, enqueued(ignored, 0)},
		{"data with whitespace, key order and escapes", fancy, enqueued(fancy, 0)},
		{"empty object", emptyObject, enqueued(emptyObject, 0)},
	}
	// Every message is due by now; each claim leases until long after,
	// so the one just enqueued is the only one to claim.
	now, until := at(100*time.Hour), at(200*time.Hour)
	var prev int64
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := s.EnqueueMail(ctx, tt.in)
			wantNextID(t, "EnqueueMail", id, err, &prev)
			wantCount(t, s, "after EnqueueMail", int64(i+1))
			got, err := s.ClaimMail(ctx, now, until, 5)
			must(t, "ClaimMail", err)
			want := tt.want
			want.ID = id
			want.LockedUntil = until.Truncate(micro)
			diff(t, "claimed message", got, []store.OutboxMessage{want})
		})
	}
}

func testEnqueueMailErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	first := mustEnqueue(t, s, newMail(1, ""))
	tests := []struct {
		name   string
		change func(*store.OutboxMessage)
	}{
		{"no kind", func(m *store.OutboxMessage) { m.Kind = "" }},
		{"no recipient", func(m *store.OutboxMessage) { m.To = "" }},
		{"zero creation time", func(m *store.OutboxMessage) { m.CreatedAt = time.Time{} }},
		{"zero expiry", func(m *store.OutboxMessage) { m.ExpiresAt = time.Time{} }},
		{"malformed user id", func(m *store.OutboxMessage) { m.UserID = "nope" }},
		{"data not JSON", func(m *store.OutboxMessage) { m.Data = json.RawMessage(`{"a":`) }},
		{"data with trailing garbage", func(m *store.OutboxMessage) { m.Data = json.RawMessage(`{} x`) }},
		{"data an array", func(m *store.OutboxMessage) { m.Data = json.RawMessage(`[{"a": 1}]`) }},
		{"data a string", func(m *store.OutboxMessage) { m.Data = json.RawMessage(`"{}"`) }},
		{"data a number", func(m *store.OutboxMessage) { m.Data = json.RawMessage(`1`) }},
		{"data null", func(m *store.OutboxMessage) { m.Data = json.RawMessage(`null`) }},
		{"data blank", func(m *store.OutboxMessage) { m.Data = json.RawMessage(` `) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMail(2, uuid.NewString())
			tt.change(&m)
			id, err := s.EnqueueMail(ctx, m)
			wantPlainErr(t, fmt.Sprintf("EnqueueMail = %d", id), err)
			wantCount(t, s, "after a refused EnqueueMail", 1)
		})
	}
	got, err := s.ClaimMail(ctx, at(100*time.Hour), at(200*time.Hour), 100)
	must(t, "ClaimMail", err)
	first.LockedUntil = at(200 * time.Hour).Truncate(micro)
	diff(t, "messages after refused enqueues", got, []store.OutboxMessage{first})
}

func testClaimMail(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := at(10 * time.Hour)
	// 20 messages due by now (one exactly at now, the rest before, not in
	// id order), then 5 due later, the first a microsecond after now.
	var mm mailModel
	for i := range 20 {
		m := newMail(i, "")
		m.NextAttemptAt = now.Add(-time.Duration((i*7)%20) * time.Minute)
		mm = append(mm, mustEnqueue(t, s, m))
	}
	for i, d := range []time.Duration{micro, time.Minute, time.Hour, 2 * time.Hour, 100 * time.Hour} {
		m := newMail(20+i, "")
		m.NextAttemptAt = now.Add(d)
		mm = append(mm, mustEnqueue(t, s, m))
	}
	// Data differs from message to message: newMail draws an id.
	until := now.Add(time.Hour)
	steps := []struct {
		name       string
		now, until time.Time
		limit      int
		wantN      int // how many the model returns: checks the case
	}{
		{"limit 3", now, until, 3, 3},
		{"limit 0 means 10", now, until, 0, 10},
		{"a negative limit means 10", now, until, -1, 7},
		{"leased messages are not claimed again", now, until, 100, 0},
		{"due a microsecond after now", now.Add(micro), now.Add(2 * time.Hour), 100, 1},
		{"a microsecond before the leases lapse", until.Add(-micro), now.Add(2 * time.Hour), 100, 1},
		{"when the leases lapse", until, now.Add(3 * time.Hour), 100, 21},
		{"limit 1 takes the oldest", now.Add(2 * time.Hour), now.Add(4 * time.Hour), 1, 1},
		{"the rest", now.Add(2 * time.Hour), now.Add(4 * time.Hour), 100, 2},
	}
	for _, st := range steps {
		want := mm.claim(st.now, st.until, st.limit)
		if len(want) != st.wantN {
			t.Fatalf("%s: the model claims %d, the case says %d", st.name, len(want), st.wantN)
		}
		got, err := s.ClaimMail(ctx, st.now, st.until, st.limit)
		if err != nil {
			t.Fatalf("%s: ClaimMail: %v", st.name, err)
		}
		diff(t, st.name, got, want)
		// Claimed messages still wait in the outbox.
		wantCount(t, s, st.name, int64(len(mm)))
	}
	// Long after, every lease has lapsed and every message is due.
	got, err := s.ClaimMail(ctx, now.Add(1000*time.Hour), now.Add(1001*time.Hour), 100)
	must(t, "ClaimMail(everything)", err)
	if len(got) != len(mm) {
		t.Errorf("ClaimMail(everything) = %d messages, want %d", len(got), len(mm))
	}
}

func testRetryMail(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := at(10 * time.Hour)
	var mm mailModel
	for i := range 3 {
		m := newMail(i, uuid.NewString())
		if i == 2 {
			m.NextAttemptAt = now.Add(20 * time.Hour) // not claimed before it is retried
		}
		mm = append(mm, mustEnqueue(t, s, m))
	}
	lease := now.Add(2 * time.Hour)
	got, err := s.ClaimMail(ctx, now, lease, 2)
	must(t, "ClaimMail", err)
	diff(t, "claimed", got, mm.claim(now, lease, 2))

	// A failed delivery: retried an hour later, the lease released.
	next := now.Add(time.Hour)
	must(t, "RetryMail", s.RetryMail(ctx, mm[0].ID, next, "421 4.7.0 try again later"))
	mm[0].Attempts = 1
	mm[0].NextAttemptAt = next.Truncate(micro)
	mm[0].LastError = "421 4.7.0 try again later"
	mm[0].LockedUntil = time.Time{}
	// Not before next; mm[1] is still leased, mm[2] not due.
	got, err = s.ClaimMail(ctx, next.Add(-micro), lease, 100)
	must(t, "ClaimMail", err)
	diff(t, "claimed before the retry is due", got, mm.claim(next.Add(-micro), lease, 100))
	// At next.
	got, err = s.ClaimMail(ctx, next, lease, 100)
	must(t, "ClaimMail", err)
	want := mm.claim(next, lease, 100)
	if len(want) != 1 || want[0].ID != mm[0].ID {
		t.Fatalf("the model claims %v at next, want the retried message", want)
	}
	diff(t, "claimed when the retry is due", got, want)

	// A second failure counts again and replaces the error. An error
	// text that is not valid UTF-8, or holds NUL, as a mail server's
	// reply may, is stored with U+FFFD in their place.
	next2 := now.Add(30 * time.Hour)
	must(t, "RetryMail again", s.RetryMail(ctx, mm[0].ID, next2, "550 bad \xff\xfe reply\x00 here"))
	mm[0].Attempts = 2
	mm[0].NextAttemptAt = next2.Truncate(micro)
	mm[0].LastError = "550 bad \uFFFD reply\uFFFD here"
	mm[0].LockedUntil = time.Time{}
	// A message never claimed can be retried too.
	must(t, "RetryMail(unclaimed)", s.RetryMail(ctx, mm[2].ID, next2, ""))
	mm[2].Attempts = 1
	mm[2].NextAttemptAt = next2.Truncate(micro)
	mm[2].LockedUntil = time.Time{}
	late, lateLease := now.Add(40*time.Hour), now.Add(41*time.Hour)
	got, err = s.ClaimMail(ctx, late, lateLease, 100)
	must(t, "ClaimMail", err)
	diff(t, "claimed after the retries", got, mm.claim(late, lateLease, 100))

	err = s.RetryMail(ctx, mm[len(mm)-1].ID+1000, next, "gone")
	wantErr(t, "RetryMail(unknown id)", err, store.ErrNotFound)
	must(t, "DeleteMail", s.DeleteMail(ctx, mm[1].ID))
	err = s.RetryMail(ctx, mm[1].ID, next, "gone")
	wantErr(t, "RetryMail(deleted message)", err, store.ErrNotFound)
	wantCount(t, s, "after the retries", 2)
}

func testDeleteMail(t *testing.T, s store.Store) {
	ctx := t.Context()
	var mm mailModel
	for i := range 4 {
		mm = append(mm, mustEnqueue(t, s, newMail(i, "")))
	}
	now, lease := at(10*time.Hour), at(11*time.Hour)
	// A leased message can be deleted: that is how a sender finishes.
	if _, err := s.ClaimMail(ctx, now, lease, 1); err != nil {
		t.Fatalf("ClaimMail: %v", err)
	}
	for _, id := range []int64{mm[0].ID, mm[2].ID, mm[2].ID, 1 << 40, 0, -1} {
		if err := s.DeleteMail(ctx, id); err != nil {
			t.Errorf("DeleteMail(%d): %v", id, err)
		}
	}
	wantCount(t, s, "after DeleteMail", 2)
	got, err := s.ClaimMail(ctx, now, lease, 100)
	must(t, "ClaimMail", err)
	kept := mailModel{mm[1], mm[3]}
	diff(t, "messages after DeleteMail", got, kept.claim(now, lease, 100))

	// Deleting the newest message does not make the store hand its id
	// out again.
	must(t, "DeleteMail", s.DeleteMail(ctx, mm[3].ID))
	next := mustEnqueue(t, s, newMail(9, ""))
	if next.ID <= mm[3].ID {
		t.Errorf("id after deleting the newest message = %d, want more than %d", next.ID, mm[3].ID)
	}
	must(t, "DeleteMail", s.DeleteMail(ctx, mm[1].ID))
	must(t, "DeleteMail", s.DeleteMail(ctx, next.ID))
	wantCount(t, s, "after deleting everything", 0)
}
