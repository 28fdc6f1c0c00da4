package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/store"
)

// micro is the precision the stores keep; they compare cut-offs at it
// too.
const micro = time.Microsecond

// ended reports whether DeleteEndedSessions with these cut-offs must
// delete ss, a session as the store returned it.
func ended(ss store.Session, revokedBefore, expiredBefore, idleBefore time.Time) bool {
	return (!ss.RevokedAt.IsZero() && ss.RevokedAt.Before(revokedBefore.Truncate(micro))) ||
		ss.ExpiresAt.Before(expiredBefore.Truncate(micro)) ||
		ss.LastActiveAt.Before(idleBefore.Truncate(micro))
}

// active reports whether CountActiveSessions(now, idleAfter) must count
// ss.
func active(ss store.Session, now, idleAfter time.Time) bool {
	return ss.RevokedAt.IsZero() && ss.ExpiresAt.After(now.Truncate(micro)) && ss.LastActiveAt.After(idleAfter.Truncate(micro))
}

// stale reports whether DeleteThrottlesBefore(t) must delete th.
func stale(th store.Throttle, t time.Time) bool {
	t = t.Truncate(micro)
	return !t.IsZero() &&
		(th.LastFailureAt.IsZero() || th.LastFailureAt.Before(t)) &&
		(th.BlockedUntil.IsZero() || th.BlockedUntil.Before(t))
}

// sessionCase shapes one session of a clean-up test.
type sessionCase struct {
	name  string
	shape func(*store.Session) // nil: leave the live base session as it is
	want  bool                 // deleted, or counted
}

// createShaped creates, for each case, a session of one of users that is
// live at now (created two hours before, active one hour before, expiring
// a day after), has rotated its refresh token once, and then has the
// case's shape. It returns the sessions as stored and the hashes each
// issued.
func createShaped(t *testing.T, s store.Store, users []store.User, now time.Time, cases []sessionCase) ([]store.Session, [][][]byte) {
	t.Helper()
	var (
		sessions []store.Session
		hashes   [][][]byte
	)
	for i, c := range cases {
		ss := mustCreateSession(t, s, newSession(users[i%len(users)].ID, i))
		next := fmt.Sprintf("%s/1", ss.ID)
		got, err := s.UpdateSession(t.Context(), ss.ID, func(x *store.Session) error {
			if err := rotate(next, now.Add(-90*time.Minute))(x); err != nil {
				return err
			}
			x.CreatedAt = now.Add(-2 * time.Hour)
			x.LastActiveAt = now.Add(-time.Hour)
			x.ExpiresAt = now.Add(24 * time.Hour)
			if c.shape != nil {
				c.shape(x)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: UpdateSession: %v", c.name, err)
		}
		sessions = append(sessions, got)
		hashes = append(hashes, [][]byte{ss.RefreshHash, hash(next)})
	}
	return sessions, hashes
}

func testDeleteEndedSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	users := []store.User{mustCreateUser(t, s, newUser(1)), mustCreateUser(t, s, newUser(2))}
	now := at(100 * time.Hour)
	revokedBefore, expiredBefore, idleBefore := now.Add(-24*time.Hour), now, now.Add(-48*time.Hour)
	cases := []sessionCase{
		{"live", nil, false},
		{"revoked a microsecond before the cut-off", func(x *store.Session) { x.RevokedAt = revokedBefore.Add(-micro) }, true},
		{"revoked at the cut-off", func(x *store.Session) { x.RevokedAt = revokedBefore }, false},
		{"revoked recently", func(x *store.Session) { x.RevokedAt = now.Add(-time.Hour) }, false},
		{"expired a microsecond before the cut-off", func(x *store.Session) { x.ExpiresAt = expiredBefore.Add(-micro) }, true},
		{"expiring at the cut-off", func(x *store.Session) { x.ExpiresAt = expiredBefore }, false},
		{"idle since a microsecond before the cut-off", func(x *store.Session) { x.LastActiveAt = idleBefore.Add(-micro) }, true},
		{"idle since the cut-off", func(x *store.Session) { x.LastActiveAt = idleBefore }, false},
		{"ended every way", func(x *store.Session) {
			x.RevokedAt = at(-time.Hour)
			x.ExpiresAt = at(-time.Hour)
			x.LastActiveAt = at(-2 * time.Hour)
		}, true},
		{"live, second user", nil, false},
	}
	sessions, hashes := createShaped(t, s, users, now, cases)
	var want int64
	for i, c := range cases {
		if ended(sessions[i], revokedBefore, expiredBefore, idleBefore) != c.want {
			t.Fatalf("%s: the case does not test what it says", c.name)
		}
		if c.want {
			want++
		}
	}

	n, err := s.DeleteEndedSessions(ctx, time.Time{}, time.Time{}, time.Time{})
	if err != nil || n != 0 {
		t.Errorf("DeleteEndedSessions(zero cut-offs) = %d, %v; want 0, nil", n, err)
	}
	n, err = s.DeleteEndedSessions(ctx, revokedBefore, expiredBefore, idleBefore)
	must(t, "DeleteEndedSessions", err)
	if n != want {
		t.Errorf("DeleteEndedSessions = %d, want %d", n, want)
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := s.GetSession(ctx, sessions[i].ID)
			if c.want {
				wantErr(t, "GetSession(deleted)", err, store.ErrNotFound)
			} else if err != nil {
				t.Errorf("GetSession(kept): %v", err)
			} else {
				diff(t, "kept session", got, sessions[i])
			}
			// The cascade took the deleted session's whole token history.
			for j, h := range hashes[i] {
				got, err := s.GetSessionByRefreshHash(ctx, h)
				switch {
				case c.want:
					if !isNotFound(err) {
						t.Errorf("GetSessionByRefreshHash(hash %d of a deleted session): got %v, want ErrNotFound", j, err)
					}
				case err != nil:
					t.Errorf("GetSessionByRefreshHash(hash %d of a kept session): %v", j, err)
				case got.ID != sessions[i].ID:
					t.Errorf("hash %d finds session %s, want %s", j, got.ID, sessions[i].ID)
				}
			}
		})
	}
	for _, u := range users {
		if _, err := s.GetUser(ctx, u.ID); err != nil {
			t.Errorf("GetUser after DeleteEndedSessions: %v", err)
		}
	}
	n, err = s.DeleteEndedSessions(ctx, revokedBefore, expiredBefore, idleBefore)
	if err != nil || n != 0 {
		t.Errorf("DeleteEndedSessions again = %d, %v; want 0, nil", n, err)
	}
}

func testCountActiveSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := at(100 * time.Hour)
	idleAfter := now.Add(-48 * time.Hour)
	if n, err := s.CountActiveSessions(ctx, now, idleAfter); err != nil || n != 0 {
		t.Errorf("CountActiveSessions(empty store) = %d, %v; want 0, nil", n, err)
	}
	users := []store.User{mustCreateUser(t, s, newUser(1)), mustCreateUser(t, s, newUser(2))}
	cases := []sessionCase{
		{"live", nil, true},
		{"revoked", func(x *store.Session) { x.RevokedAt = now.Add(-time.Minute) }, false},
		{"expiring at now", func(x *store.Session) { x.ExpiresAt = now }, false},
		{"expiring a microsecond after now", func(x *store.Session) { x.ExpiresAt = now.Add(micro) }, true},
		{"active last at the idle cut-off", func(x *store.Session) { x.LastActiveAt = idleAfter }, false},
		{"active last a microsecond after it", func(x *store.Session) { x.LastActiveAt = idleAfter.Add(micro) }, true},
		{"expired long ago", func(x *store.Session) { x.ExpiresAt = at(-time.Hour) }, false},
		{"live, second user", nil, true},
		{"live, first user", nil, true},
	}
	sessions, _ := createShaped(t, s, users, now, cases)
	var want, second int64
	for i, c := range cases {
		if active(sessions[i], now, idleAfter) != c.want {
			t.Fatalf("%s: the case does not test what it says", c.name)
		}
		if c.want {
			want++
			if i%len(users) == 1 {
				second++
			}
		}
	}
	if n, err := s.CountActiveSessions(ctx, now, idleAfter); err != nil || n != want {
		t.Errorf("CountActiveSessions = %d, %v; want %d, nil", n, err, want)
	}
	must(t, "DeleteUser", s.DeleteUser(ctx, users[1].ID))
	if n, err := s.CountActiveSessions(ctx, now, idleAfter); err != nil || n != want-second {
		t.Errorf("CountActiveSessions after DeleteUser = %d, %v; want %d, nil", n, err, want-second)
	}
}

func testDeleteThrottlesBefore(t *testing.T, s store.Store) {
	ctx := t.Context()
	cut := at(24 * time.Hour)
	long := at(-time.Hour)
	tests := []struct {
		th   store.Throttle
		gone bool
	}{
		{store.Throttle{Key: "failed a microsecond before", Failures: 1, LastFailureAt: cut.Add(-micro)}, true},
		{store.Throttle{Key: "failed at the cut-off", Failures: 2, LastFailureAt: cut}, false},
		{store.Throttle{Key: "failed after", Failures: 3, LastFailureAt: cut.Add(time.Hour)}, false},
		{store.Throttle{Key: "blocked past the cut-off", Failures: 9, LastFailureAt: long, BlockedUntil: cut.Add(time.Hour)}, false},
		{store.Throttle{Key: "blocked until the cut-off", Failures: 9, LastFailureAt: long, BlockedUntil: cut}, false},
		{store.Throttle{Key: "block ended a microsecond before", Failures: 9, LastFailureAt: long, BlockedUntil: cut.Add(-micro)}, true},
		{store.Throttle{Key: "no failure time", Failures: 1}, true},
		{store.Throttle{Key: "no failure time, blocked past the cut-off", Failures: 1, BlockedUntil: cut.Add(time.Hour)}, false},
	}
	var (
		keys       []string
		kept       []store.Throttle
		want       int64
		everything []store.Throttle
	)
	for _, tt := range tests {
		th, err := s.UpdateThrottle(ctx, tt.th.Key, func(th *store.Throttle) error { *th = tt.th; return nil })
		if err != nil {
			t.Fatalf("UpdateThrottle(%s): %v", tt.th.Key, err)
		}
		if stale(th, cut) != tt.gone {
			t.Fatalf("%s: the case does not test what it says", tt.th.Key)
		}
		keys = append(keys, th.Key)
		everything = append(everything, th)
		if tt.gone {
			want++
		} else {
			kept = append(kept, th)
		}
	}
	sortThrottles(kept)
	sortThrottles(everything)

	wantDeleted(t, "DeleteThrottlesBefore(zero time)", s.DeleteThrottlesBefore, time.Time{}, 0)
	got, err := s.GetThrottles(ctx, keys)
	must(t, "GetThrottles", err)
	sortThrottles(got)
	diff(t, "throttles after DeleteThrottlesBefore(zero time)", got, everything)

	wantDeleted(t, "DeleteThrottlesBefore", s.DeleteThrottlesBefore, cut, want)
	got, err = s.GetThrottles(ctx, keys)
	must(t, "GetThrottles", err)
	sortThrottles(got)
	diff(t, "throttles after DeleteThrottlesBefore", got, kept)
	wantDeleted(t, "DeleteThrottlesBefore again", s.DeleteThrottlesBefore, cut, 0)
}

// testGrowth runs two weeks of simulated traffic, with the clean-up a server
// would run once a simulated day, and checks that the rows the store keeps
// are exactly the ones a retention policy still needs: no more than its
// windows hold, however long the timeline runs.
func testGrowth(t *testing.T, s store.Store) {
	ctx := t.Context()
	const (
		step            = 12 * time.Hour
		steps           = 30 // 15 days: several of every retention window
		lifetime        = 4 * 24 * time.Hour
		idle            = 24 * time.Hour
		keepRevoked     = 24 * time.Hour // re-use of a signed-out session's token is recognised that long
		keepThrottles   = 24 * time.Hour
		lockout         = 2 * 24 * time.Hour
		lockEvery       = 6 // steps
		keepAudit       = 3 * 24 * time.Hour
		sessionsPerStep = 2
		keysPerStep     = 2 // new throttle keys; one more key fails every step
		eventsPerStep   = 4
		tokenLifetime   = 24 * time.Hour
		tokensPerStep   = 2 // one of the previous step's is used
		mailLifetime    = 2 * 24 * time.Hour
		mailPerStep     = 3 // the first of each step bounces until it expires
		lease           = 5 * time.Minute
		factorsPerStep  = 2 // enrolments; the first of each is verified a step later
		keepPending     = 24 * time.Hour
	)
	// Fates of a session, by its number.
	const (
		refreshed = iota // refreshed every step until its absolute expiry
		abandoned        // never refreshed: ends idle
		signedOut        // revoked one step after sign-in
		brief            // refreshed for two steps, then abandoned
		fates
	)
	type tracked struct {
		s      store.Session // as the store returned it
		fate   int
		hashes [][]byte
	}
	var (
		users       []store.User
		live        = map[string]*tracked{} // what the store must still hold
		gone        []*tracked              // what the clean-up deleted
		throttles   = map[string]store.Throttle{}
		keys        []string             // every throttle key ever used
		events      []store.AuditEvent   // oldest first
		created     = map[string]int{}   // rows ever created, by table
		removed     = map[string]int64{} // rows the clean-up reported
		tokens      = map[string]store.OneTimeToken{}
		goneTok     []store.OneTimeToken
		fresh       []store.OneTimeToken // created in the last step
		outbox      = map[int64]store.OutboxMessage{}
		bouncing    = map[string]bool{} // recipients whose mail fails
		factors     = map[string]store.Factor{}
		goneFactors []store.Factor
		enrolled    []store.Factor // created in the last step
	)
	for i := range 3 {
		users = append(users, mustCreateUser(t, s, newUser(i)))
	}

	refresh := func(tr *tracked, now time.Time) {
		t.Helper()
		next := fmt.Sprintf("%s/%d", tr.s.ID, tr.s.Generation+1)
		got, err := s.UpdateSession(ctx, tr.s.ID, rotate(next, now))
		must(t, "refresh", err)
		tr.s = got
		tr.hashes = append(tr.hashes, hash(next))
	}
	fail := func(key string, now time.Time, block time.Duration) {
		t.Helper()
		prev, ok := throttles[key]
		if !ok {
			prev = store.Throttle{Key: key}
			keys = append(keys, key)
			created["throttles"]++
		}
		want := prev
		want.Failures++
		want.LastFailureAt = now.Truncate(micro)
		if block > 0 {
			want.BlockedUntil = now.Add(block).Truncate(micro)
		}
		got, err := s.UpdateThrottle(ctx, key, func(th *store.Throttle) error {
			th.Failures++
			th.LastFailureAt = now
			if block > 0 {
				th.BlockedUntil = now.Add(block)
			}
			return nil
		})
		must(t, "UpdateThrottle", err)
		// A row the clean-up deleted starts again from zero.
		diff(t, "throttle after a failure", got, want)
		throttles[key] = got
	}
	cleanUp := func(now time.Time) {
		t.Helper()
		revokedBefore, expiredBefore, idleBefore := now.Add(-keepRevoked), now, now.Add(-idle)
		var want int64
		for id, tr := range live {
			if ended(tr.s, revokedBefore, expiredBefore, idleBefore) {
				want++
				gone = append(gone, tr)
				delete(live, id)
			}
		}
		n, err := s.DeleteEndedSessions(ctx, revokedBefore, expiredBefore, idleBefore)
		if err != nil || n != want {
			t.Fatalf("at %v: DeleteEndedSessions = %d, %v; want %d, nil", now, n, err, want)
		}
		removed["sessions"] += n

		var activeNow int64
		for _, tr := range live {
			if active(tr.s, now, now.Add(-idle)) {
				activeNow++
			}
		}
		if n, err := s.CountActiveSessions(ctx, now, now.Add(-idle)); err != nil || n != activeNow {
			t.Fatalf("at %v: CountActiveSessions = %d, %v; want %d, nil", now, n, err, activeNow)
		}

		want = 0
		for id, tok := range tokens {
			if tok.ExpiresAt.Before(now.Truncate(micro)) {
				want++
				goneTok = append(goneTok, tok)
				delete(tokens, id)
			}
		}
		n, err = s.DeleteOneTimeTokensBefore(ctx, now)
		if err != nil || n != want {
			t.Fatalf("at %v: DeleteOneTimeTokensBefore = %d, %v; want %d, nil", now, n, err, want)
		}
		removed["tokens"] += n

		cut := now.Add(-keepThrottles)
		want = 0
		for key, th := range throttles {
			if stale(th, cut) {
				want++
				delete(throttles, key)
			}
		}
		n, err = s.DeleteThrottlesBefore(ctx, cut)
		if err != nil || n != want {
			t.Fatalf("at %v: DeleteThrottlesBefore = %d, %v; want %d, nil", now, n, err, want)
		}
		removed["throttles"] += n

		cut = now.Add(-keepAudit)
		i := slices.IndexFunc(events, func(e store.AuditEvent) bool { return !e.Time.Before(cut.Truncate(micro)) })
		if i < 0 {
			i = len(events)
		}
		n, err = s.DeleteAuditBefore(ctx, cut)
		if err != nil || n != int64(i) {
			t.Fatalf("at %v: DeleteAuditBefore = %d, %v; want %d, nil", now, n, err, i)
		}
		events = events[i:]
		removed["audit"] += n

		cut = now.Add(-keepPending)
		want = 0
		pending := 0
		for id, f := range factors {
			switch {
			case !f.VerifiedAt.IsZero():
			case f.CreatedAt.Before(cut.Truncate(micro)):
				want++
				goneFactors = append(goneFactors, f)
				delete(factors, id)
			default:
				pending++
			}
		}
		n, err = s.DeletePendingFactorsBefore(ctx, cut)
		if err != nil || n != want {
			t.Fatalf("at %v: DeletePendingFactorsBefore = %d, %v; want %d, nil", now, n, err, want)
		}
		removed["abandoned factors"] += n

		// The bounds hold for the store, not only for the model: the
		// counts above tie the two together, and the end checks the rows.
		bounds := []struct {
			what      string
			got, most int
		}{
			// Every session kept expires at or after now, so signed in
			// within the last lifetime.
			{"sessions", len(live), sessionsPerStep * (int(lifetime/step) + 1)},
			// Keys failing in the last keepThrottles, the key failing
			// every step, and the keys still blocked then.
			{"throttles", len(throttles), keysPerStep*(int(keepThrottles/step)+1) + 1 +
				int((lockout+keepThrottles)/(lockEvery*step)) + 1},
			{"audit events", len(events), eventsPerStep * (int(keepAudit/step) + 1)},
			// Tokens that expire at or after now, so created within the
			// last lifetime.
			{"one-time tokens", len(tokens), tokensPerStep * (int(tokenLifetime/step) + 1)},
			// The sender runs every step: what waits is bouncing mail,
			// dropped at the first attempt after it expired.
			{"queued messages", len(outbox), int(mailLifetime/step) + 2},
			// Enrolments left pending within the last keepPending.
			{"pending factors", pending, factorsPerStep * (int(keepPending/step) + 1)},
		}
		for _, b := range bounds {
			if b.got > b.most {
				t.Fatalf("at %v: %d %s kept, want at most %d", now, b.got, b.what, b.most)
			}
		}
	}

	types := []string{"login.success", "login.failure", "refresh.reuse", "logout"}
	for k := range steps {
		now := at(time.Duration(k) * step)
		// Traffic on the sessions a server would still honour.
		for _, tr := range live {
			ss := tr.s
			if !ss.RevokedAt.IsZero() || !ss.ExpiresAt.After(now) || !ss.LastActiveAt.After(now.Add(-idle)) {
				continue
			}
			switch tr.fate {
			case refreshed:
				refresh(tr, now)
			case abandoned:
				// Never seen again.
			case brief:
				if now.Sub(ss.CreatedAt) <= 2*step {
					refresh(tr, now)
				}
			case signedOut:
				got, err := s.UpdateSession(ctx, ss.ID, func(x *store.Session) error { x.RevokedAt = now; return nil })
				must(t, "sign out", err)
				tr.s = got
			}
		}
		for j := range sessionsPerStep {
			n := k*sessionsPerStep + j
			ss := newSession(users[n%len(users)].ID, 0)
			ss.CreatedAt, ss.LastActiveAt, ss.RotatedAt = now, now, now
			ss.ExpiresAt = now.Add(lifetime)
			mustCreateSession(t, s, ss)
			live[ss.ID] = &tracked{s: stored(ss), fate: n % fates, hashes: [][]byte{ss.RefreshHash}}
			created["sessions"]++
		}
		for j := range keysPerStep {
			fail(fmt.Sprintf("ip:step-%d-%d", k, j), now, 0)
		}
		fail("ip:203.0.113.1", now, 0)
		if k%lockEvery == 0 {
			fail(fmt.Sprintf("account:locked-%d@example.com", k), now, lockout)
		}
		for j := range eventsPerStep {
			e := newEvent(0, types[j], users[j%len(users)].ID)
			e.Time = now
			events = append(events, mustAppend(t, s, e))
			created["audit"]++
		}

		// Sign-in links and codes: one of the last step's is used, the
		// others are left to expire.
		if len(fresh) > 0 {
			got, _, err := s.UseOneTimeToken(ctx, fresh[0].Hash, func(x *store.OneTimeToken, _ *store.User) error {
				x.UsedAt = now
				return nil
			})
			must(t, "UseOneTimeToken", err)
			tokens[got.ID] = got
		}
		fresh = nil
		for j := range tokensPerStep {
			n := k*tokensPerStep + j
			tok := newToken(users[n%len(users)], []store.TokenPurpose{store.PurposeVerify, store.PurposeOTP}[j%2], 0)
			tok.CreatedAt, tok.ExpiresAt = now, now.Add(tokenLifetime)
			tok = mustCreateToken(t, s, tok)
			tokens[tok.ID] = tok
			fresh = append(fresh, tok)
			created["tokens"]++
		}

		// Second factors: the first of the last step's enrolments is
		// verified, the others are abandoned.
		if len(enrolled) > 0 {
			_, got, err := s.VerifyFactor(ctx, enrolled[0].ID, func(_ *store.User, f *store.Factor, _ []store.Factor) error {
				f.VerifiedAt = now
				return nil
			})
			must(t, "VerifyFactor", err)
			factors[got.ID] = got
		}
		enrolled = nil
		for j := range factorsPerStep {
			n := k*factorsPerStep + j
			f := newFactor(users[n%len(users)].ID, store.FactorTOTP, 0)
			f.CreatedAt = now
			f = mustCreateFactor(t, s, f)
			factors[f.ID] = f
			enrolled = append(enrolled, f)
			if j > 0 {
				created["abandoned factors"]++
			}
		}

		// Mail: queued, then sent by a sender that drops what expired
		// and retries what bounced a step later.
		for j := range mailPerStep {
			m := newMail(0, users[j%len(users)].ID)
			m.To = fmt.Sprintf("step-%d-%d@example.com", k, j)
			m.CreatedAt, m.ExpiresAt = now, now.Add(mailLifetime)
			m = mustEnqueue(t, s, m)
			outbox[m.ID] = m
			bouncing[m.To] = j == 0
			created["mail"]++
		}
		for {
			claimed, err := s.ClaimMail(ctx, now, now.Add(lease), 0)
			must(t, "ClaimMail", err)
			if len(claimed) == 0 {
				break
			}
			for _, m := range claimed {
				want := outbox[m.ID]
				want.LockedUntil = now.Add(lease).Truncate(micro)
				diff(t, "claimed message", m, want)
				if !m.ExpiresAt.Before(now.Truncate(micro)) && bouncing[m.To] {
					must(t, "RetryMail", s.RetryMail(ctx, m.ID, now.Add(step), "550 5.1.1 mailbox unavailable"))
					want.Attempts++
					want.NextAttemptAt = now.Add(step).Truncate(micro)
					want.LastError = "550 5.1.1 mailbox unavailable"
					want.LockedUntil = time.Time{}
					outbox[m.ID] = want
					continue
				}
				// Sent, or expired: gone either way.
				must(t, "DeleteMail", s.DeleteMail(ctx, m.ID))
				delete(outbox, m.ID)
				removed["mail"]++
			}
		}
		wantCount(t, s, fmt.Sprintf("at %v", now), int64(len(outbox)))

		if k%2 == 1 {
			cleanUp(now)
		}
	}
	cleanUp(at(steps * step))

	// Most of what was created is gone (of the factors, the abandoned
	// enrolments: the verified ones stay).
	for _, table := range []string{"sessions", "throttles", "audit", "tokens", "mail", "abandoned factors"} {
		if kept := int64(created[table]) - removed[table]; removed[table] == 0 || kept*2 > int64(created[table]) {
			t.Errorf("%s: created %d, clean-up removed %d; want most removed", table, created[table], removed[table])
		}
	}

	// The store holds exactly what the model says.
	for _, tr := range live {
		got := mustGet(t, "GetSession", s.GetSession, tr.s.ID)
		diff(t, "kept session", got, tr.s)
		for _, h := range tr.hashes {
			if got, err := s.GetSessionByRefreshHash(ctx, h); err != nil || got.ID != tr.s.ID {
				t.Errorf("GetSessionByRefreshHash(a kept session's hash) = %s, %v; want %s", got.ID, err, tr.s.ID)
			}
		}
	}
	for _, tr := range gone {
		if _, err := s.GetSession(ctx, tr.s.ID); !isNotFound(err) {
			t.Errorf("GetSession(deleted): got %v, want ErrNotFound", err)
		}
		for _, h := range tr.hashes {
			if _, err := s.GetSessionByRefreshHash(ctx, h); !isNotFound(err) {
				t.Errorf("GetSessionByRefreshHash(a deleted session's hash): got %v, want ErrNotFound", err)
			}
		}
	}
	got, err := s.GetThrottles(ctx, keys)
	must(t, "GetThrottles", err)
	sortThrottles(got)
	var want []store.Throttle
	for _, th := range throttles {
		want = append(want, th)
	}
	sortThrottles(want)
	diff(t, "throttles kept", got, want)
	wantEvents := slices.Clone(events)
	slices.Reverse(wantEvents)
	diff(t, "audit events kept", listAllAudit(t, s, store.ListAuditOptions{Limit: 50}), wantEvents)
	for _, tok := range tokens {
		got, _, err := peek(t, s, tok.Hash)
		must(t, "UseOneTimeToken(kept token)", err)
		diff(t, "kept token", got, tok)
	}
	for _, tok := range goneTok {
		if _, _, err := peek(t, s, tok.Hash); !isNotFound(err) {
			t.Errorf("UseOneTimeToken(deleted token): got %v, want ErrNotFound", err)
		}
	}
	byUser := map[string][]store.Factor{}
	for _, f := range factors {
		byUser[f.UserID] = append(byUser[f.UserID], f)
	}
	for _, u := range users {
		wantFactors(t, s, "factors kept", u.ID, byCreation(byUser[u.ID])...)
	}
	for _, f := range goneFactors {
		wantNoFactor(t, s, "deleted pending factor", f.ID, nil)
	}
	end := at(steps*step + time.Hour)
	claimed, err := s.ClaimMail(ctx, end, end.Add(lease), 1000)
	must(t, "ClaimMail", err)
	var wantMail mailModel
	for _, m := range outbox {
		wantMail = append(wantMail, m)
	}
	slices.SortFunc(wantMail, func(a, b store.OutboxMessage) int { return cmp.Compare(a.ID, b.ID) })
	diff(t, "queued messages kept", claimed, wantMail.claim(end, end.Add(lease), 1000))
}
