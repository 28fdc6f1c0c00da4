package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/store"
)

// The timeline of testGrowth and the retention policy its clean-ups
// apply.
const (
	growthStep      = 12 * time.Hour
	growthSteps     = 30 // 15 days: several of every retention window
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
	mailLease       = 5 * time.Minute
	factorsPerStep  = 2 // enrolments; the first of each is verified a step later
	keepPending     = 24 * time.Hour
)

// fate is what testGrowth's traffic does with a session, by its number.
type fate int

const (
	refreshed fate = iota // refreshed every step until its absolute expiry
	abandoned             // never refreshed: ends idle
	signedOut             // revoked one step after sign-in
	brief                 // refreshed for two steps, then abandoned
	fates
)

// trackedSession is a session of testGrowth's model.
type trackedSession struct {
	s      store.Session // as the store returned it
	fate   fate
	hashes [][]byte
}

// growth is testGrowth's model of what the store must hold, with the
// store.
type growth struct {
	s           store.Store
	users       []store.User
	live        map[string]*trackedSession // what the store must still hold
	gone        []*trackedSession          // what the clean-up deleted
	throttles   map[string]store.Throttle
	keys        []string           // every throttle key ever used
	events      []store.AuditEvent // oldest first
	created     map[string]int     // rows ever created, by table
	removed     map[string]int64   // rows the clean-up reported
	tokens      map[string]store.OneTimeToken
	goneTok     []store.OneTimeToken
	fresh       []store.OneTimeToken // created in the last step
	outbox      map[int64]store.OutboxMessage
	bouncing    map[string]bool // recipients whose mail fails
	factors     map[string]store.Factor
	goneFactors []store.Factor
	enrolled    []store.Factor // created in the last step
}

// testGrowth runs two weeks of simulated traffic, with the clean-up a server
// would run once a simulated day, and checks that the rows the store keeps
// are exactly the ones a retention policy still needs: no more than its
// windows hold, however long the timeline runs.
func testGrowth(t *testing.T, s store.Store) {
	g := &growth{
		s:         s,
		live:      map[string]*trackedSession{},
		throttles: map[string]store.Throttle{},
		created:   map[string]int{},
		removed:   map[string]int64{},
		tokens:    map[string]store.OneTimeToken{},
		outbox:    map[int64]store.OutboxMessage{},
		bouncing:  map[string]bool{},
		factors:   map[string]store.Factor{},
	}
	for i := range 3 {
		g.users = append(g.users, mustCreateUser(t, s, newUser(i)))
	}
	for k := range growthSteps {
		now := at(time.Duration(k) * growthStep)
		g.sessionTraffic(t, now)
		g.signIns(t, k, now)
		g.failures(t, k, now)
		g.auditEvents(t, now)
		g.oneTimeTokens(t, k, now)
		g.secondFactors(t, k, now)
		g.queueMail(t, k, now)
		g.sendMail(t, now)
		if k%2 == 1 {
			g.cleanUp(t, now)
		}
	}
	g.cleanUp(t, at(growthSteps*growthStep))

	t.Run("MostRemoved", g.checkMostRemoved)
	// The store holds exactly what the model says.
	t.Run("Sessions", g.checkSessions)
	t.Run("ThrottlesAndAudit", g.checkThrottlesAndAudit)
	t.Run("Tokens", g.checkTokens)
	t.Run("Factors", g.checkFactors)
	t.Run("Mail", g.checkMail)
}

// sessionTraffic is the traffic on the sessions a server would still
// honour, each after its fate.
func (g *growth) sessionTraffic(t *testing.T, now time.Time) {
	t.Helper()
	for _, tr := range g.live {
		ss := tr.s
		if !ss.RevokedAt.IsZero() || !ss.ExpiresAt.After(now) || !ss.LastActiveAt.After(now.Add(-idle)) {
			continue
		}
		switch tr.fate {
		case refreshed:
			g.refresh(t, tr, now)
		case abandoned:
			// Never seen again.
		case brief:
			if now.Sub(ss.CreatedAt) <= 2*growthStep {
				g.refresh(t, tr, now)
			}
		case signedOut:
			got, err := g.s.UpdateSession(t.Context(), ss.ID, func(x *store.Session) error { x.RevokedAt = now; return nil })
			must(t, "sign out", err)
			tr.s = got
		}
	}
}

// refresh rotates tr's refresh token at now.
func (g *growth) refresh(t *testing.T, tr *trackedSession, now time.Time) {
	t.Helper()
	next := fmt.Sprintf("%s/%d", tr.s.ID, tr.s.Generation+1)
	got, err := g.s.UpdateSession(t.Context(), tr.s.ID, rotate(next, now))
	must(t, "refresh", err)
	tr.s = got
	tr.hashes = append(tr.hashes, hash(next))
}

// signIns starts step k's sessions, their fates in turn.
func (g *growth) signIns(t *testing.T, k int, now time.Time) {
	t.Helper()
	for j := range sessionsPerStep {
		n := k*sessionsPerStep + j
		ss := newSession(g.users[n%len(g.users)].ID, 0)
		ss.CreatedAt, ss.LastActiveAt, ss.RotatedAt = now, now, now
		ss.ExpiresAt = now.Add(lifetime)
		mustCreateSession(t, g.s, ss)
		g.live[ss.ID] = &trackedSession{s: stored(ss), fate: fate(n) % fates, hashes: [][]byte{ss.RefreshHash}}
		g.created["sessions"]++
	}
}

// failures are step k's failed logins: new keys, one key that fails
// every step, and every lockEvery steps an account locked out.
func (g *growth) failures(t *testing.T, k int, now time.Time) {
	t.Helper()
	for j := range keysPerStep {
		g.fail(t, fmt.Sprintf("ip:step-%d-%d", k, j), now, 0)
	}
	g.fail(t, "ip:203.0.113.1", now, 0)
	if k%lockEvery == 0 {
		g.fail(t, fmt.Sprintf("account:locked-%d@example.com", k), now, lockout)
	}
}

// fail counts a failure of key at now, blocking it for block if not 0.
func (g *growth) fail(t *testing.T, key string, now time.Time, block time.Duration) {
	t.Helper()
	prev, ok := g.throttles[key]
	if !ok {
		prev = store.Throttle{Key: key}
		g.keys = append(g.keys, key)
		g.created["throttles"]++
	}
	want := prev
	want.Failures++
	want.LastFailureAt = now.Truncate(micro)
	if block > 0 {
		want.BlockedUntil = now.Add(block).Truncate(micro)
	}
	got, err := g.s.UpdateThrottle(t.Context(), key, func(th *store.Throttle) error {
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
	g.throttles[key] = got
}

// auditEvents appends the step's audit events.
func (g *growth) auditEvents(t *testing.T, now time.Time) {
	t.Helper()
	types := []string{"login.success", "login.failure", "refresh.reuse", "logout"}
	for j := range eventsPerStep {
		e := newEvent(0, types[j], g.users[j%len(g.users)].ID)
		e.Time = now
		g.events = append(g.events, mustAppend(t, g.s, e))
		g.created["audit"]++
	}
}

// oneTimeTokens are the step's sign-in links and codes: one of the last
// step's is used, the others are left to expire.
func (g *growth) oneTimeTokens(t *testing.T, k int, now time.Time) {
	t.Helper()
	if len(g.fresh) > 0 {
		got, _, err := g.s.UseOneTimeToken(t.Context(), g.fresh[0].Hash, func(x *store.OneTimeToken, _ *store.User) error {
			x.UsedAt = now
			return nil
		})
		must(t, "UseOneTimeToken", err)
		g.tokens[got.ID] = got
	}
	g.fresh = nil
	for j := range tokensPerStep {
		n := k*tokensPerStep + j
		tok := newToken(g.users[n%len(g.users)], []store.TokenPurpose{store.PurposeVerify, store.PurposeOTP}[j%2], 0)
		tok.CreatedAt, tok.ExpiresAt = now, now.Add(tokenLifetime)
		tok = mustCreateToken(t, g.s, tok)
		g.tokens[tok.ID] = tok
		g.fresh = append(g.fresh, tok)
		g.created["tokens"]++
	}
}

// secondFactors are the step's enrolments: the first of the last step's
// is verified, the others are abandoned.
func (g *growth) secondFactors(t *testing.T, k int, now time.Time) {
	t.Helper()
	if len(g.enrolled) > 0 {
		_, got, err := g.s.VerifyFactor(t.Context(), g.enrolled[0].ID, func(_ *store.User, f *store.Factor, _ []store.Factor) error {
			f.VerifiedAt = now
			return nil
		})
		must(t, "VerifyFactor", err)
		g.factors[got.ID] = got
	}
	g.enrolled = nil
	for j := range factorsPerStep {
		n := k*factorsPerStep + j
		f := newFactor(g.users[n%len(g.users)].ID, store.FactorTOTP, 0)
		f.CreatedAt = now
		f = mustCreateFactor(t, g.s, f)
		g.factors[f.ID] = f
		g.enrolled = append(g.enrolled, f)
		if j > 0 {
			g.created["abandoned factors"]++
		}
	}
}

// queueMail queues the step's mail, the first message to a recipient
// whose mail bounces.
func (g *growth) queueMail(t *testing.T, k int, now time.Time) {
	t.Helper()
	for j := range mailPerStep {
		m := newMail(0, g.users[j%len(g.users)].ID)
		m.To = fmt.Sprintf("step-%d-%d@example.com", k, j)
		m.CreatedAt, m.ExpiresAt = now, now.Add(mailLifetime)
		m = mustEnqueue(t, g.s, m)
		g.outbox[m.ID] = m
		g.bouncing[m.To] = j == 0
		g.created["mail"]++
	}
}

// sendMail is a sender that drops what expired and retries what bounced
// a step later.
func (g *growth) sendMail(t *testing.T, now time.Time) {
	t.Helper()
	ctx := t.Context()
	for {
		claimed, err := g.s.ClaimMail(ctx, now, now.Add(mailLease), 0)
		must(t, "ClaimMail", err)
		if len(claimed) == 0 {
			break
		}
		for _, m := range claimed {
			want := g.outbox[m.ID]
			want.LockedUntil = now.Add(mailLease).Truncate(micro)
			diff(t, "claimed message", m, want)
			if !m.ExpiresAt.Before(now.Truncate(micro)) && g.bouncing[m.To] {
				must(t, "RetryMail", g.s.RetryMail(ctx, m.ID, now.Add(growthStep), "550 5.1.1 mailbox unavailable"))
				want.Attempts++
				want.NextAttemptAt = now.Add(growthStep).Truncate(micro)
				want.LastError = "550 5.1.1 mailbox unavailable"
				want.LockedUntil = time.Time{}
				g.outbox[m.ID] = want
				continue
			}
			// Sent, or expired: gone either way.
			must(t, "DeleteMail", g.s.DeleteMail(ctx, m.ID))
			delete(g.outbox, m.ID)
			g.removed["mail"]++
		}
	}
	wantCount(t, g.s, fmt.Sprintf("at %v", now), int64(len(g.outbox)))
}

// cleanUp runs the clean-ups a server runs at now, checks that each
// deletes what the model says, and that what is left stays within the
// policy's bounds.
func (g *growth) cleanUp(t *testing.T, now time.Time) {
	t.Helper()
	g.cleanSessions(t, now)
	g.cleanTokens(t, now)
	g.cleanThrottles(t, now)
	g.cleanAudit(t, now)
	pending := g.cleanFactors(t, now)
	g.checkBounds(t, now, pending)
}

func (g *growth) cleanSessions(t *testing.T, now time.Time) {
	t.Helper()
	ctx := t.Context()
	revokedBefore, expiredBefore, idleBefore := now.Add(-keepRevoked), now, now.Add(-idle)
	gone := takeOut(g.live, func(tr *trackedSession) bool { return ended(tr.s, revokedBefore, expiredBefore, idleBefore) })
	g.gone = append(g.gone, gone...)
	n, err := g.s.DeleteEndedSessions(ctx, revokedBefore, expiredBefore, idleBefore)
	g.deleted(t, now, "DeleteEndedSessions", "sessions", len(gone), n, err)

	var activeNow int64
	for _, tr := range g.live {
		if active(tr.s, now, now.Add(-idle)) {
			activeNow++
		}
	}
	if n, err := g.s.CountActiveSessions(ctx, now, now.Add(-idle)); err != nil || n != activeNow {
		t.Fatalf("at %v: CountActiveSessions = %d, %v; want %d, nil", now, n, err, activeNow)
	}
}

func (g *growth) cleanTokens(t *testing.T, now time.Time) {
	t.Helper()
	gone := takeOut(g.tokens, func(tok store.OneTimeToken) bool { return tok.ExpiresAt.Before(now.Truncate(micro)) })
	g.goneTok = append(g.goneTok, gone...)
	n, err := g.s.DeleteOneTimeTokensBefore(t.Context(), now)
	g.deleted(t, now, "DeleteOneTimeTokensBefore", "tokens", len(gone), n, err)
}

func (g *growth) cleanThrottles(t *testing.T, now time.Time) {
	t.Helper()
	cut := now.Add(-keepThrottles)
	gone := takeOut(g.throttles, func(th store.Throttle) bool { return stale(th, cut) })
	n, err := g.s.DeleteThrottlesBefore(t.Context(), cut)
	g.deleted(t, now, "DeleteThrottlesBefore", "throttles", len(gone), n, err)
}

func (g *growth) cleanAudit(t *testing.T, now time.Time) {
	t.Helper()
	cut := now.Add(-keepAudit)
	i := slices.IndexFunc(g.events, func(e store.AuditEvent) bool { return !e.Time.Before(cut.Truncate(micro)) })
	if i < 0 {
		i = len(g.events)
	}
	n, err := g.s.DeleteAuditBefore(t.Context(), cut)
	g.deleted(t, now, "DeleteAuditBefore", "audit", i, n, err)
	g.events = g.events[i:]
}

// cleanFactors deletes the abandoned enrolments and returns how many
// pending ones are left.
func (g *growth) cleanFactors(t *testing.T, now time.Time) (pending int) {
	t.Helper()
	cut := now.Add(-keepPending)
	gone := takeOut(g.factors, func(f store.Factor) bool { return f.VerifiedAt.IsZero() && f.CreatedAt.Before(cut.Truncate(micro)) })
	g.goneFactors = append(g.goneFactors, gone...)
	n, err := g.s.DeletePendingFactorsBefore(t.Context(), cut)
	g.deleted(t, now, "DeletePendingFactorsBefore", "abandoned factors", len(gone), n, err)
	for _, f := range g.factors {
		if f.VerifiedAt.IsZero() {
			pending++
		}
	}
	return pending
}

// takeOut removes from the model's rows m the ones that a clean-up must
// delete, and returns them.
func takeOut[K comparable, V any](m map[K]V, deletes func(V) bool) []V {
	var out []V
	for k, v := range m {
		if deletes(v) {
			out = append(out, v)
			delete(m, k)
		}
	}
	return out
}

// deleted checks that op, a clean-up at now, deleted the want rows of
// table that the model did, as its result n and err say, and counts
// them.
func (g *growth) deleted(t *testing.T, now time.Time, op, table string, want int, n int64, err error) {
	t.Helper()
	if err != nil || n != int64(want) {
		t.Fatalf("at %v: %s = %d, %v; want %d, nil", now, op, n, err, want)
	}
	g.removed[table] += n
}

// checkBounds checks that the model keeps no more than the policy's
// windows hold. The bounds hold for the store, not only for the model:
// the counts of the clean-ups tie the two together, and the end checks
// the rows.
func (g *growth) checkBounds(t *testing.T, now time.Time, pending int) {
	t.Helper()
	bounds := []struct {
		what      string
		got, most int
	}{
		// Every session kept expires at or after now, so signed in
		// within the last lifetime.
		{"sessions", len(g.live), sessionsPerStep * (int(lifetime/growthStep) + 1)},
		// Keys failing in the last keepThrottles, the key failing
		// every step, and the keys still blocked then.
		{"throttles", len(g.throttles), keysPerStep*(int(keepThrottles/growthStep)+1) + 1 +
			int((lockout+keepThrottles)/(lockEvery*growthStep)) + 1},
		{"audit events", len(g.events), eventsPerStep * (int(keepAudit/growthStep) + 1)},
		// Tokens that expire at or after now, so created within the
		// last lifetime.
		{"one-time tokens", len(g.tokens), tokensPerStep * (int(tokenLifetime/growthStep) + 1)},
		// The sender runs every step: what waits is bouncing mail,
		// dropped at the first attempt after it expired.
		{"queued messages", len(g.outbox), int(mailLifetime/growthStep) + 2},
		// Enrolments left pending within the last keepPending.
		{"pending factors", pending, factorsPerStep * (int(keepPending/growthStep) + 1)},
	}
	for _, b := range bounds {
		if b.got > b.most {
			t.Fatalf("at %v: %d %s kept, want at most %d", now, b.got, b.what, b.most)
		}
	}
}

// checkMostRemoved checks that most of what was created is gone (of the
// factors, the abandoned enrolments: the verified ones stay).
func (g *growth) checkMostRemoved(t *testing.T) {
	for _, table := range []string{"sessions", "throttles", "audit", "tokens", "mail", "abandoned factors"} {
		if kept := int64(g.created[table]) - g.removed[table]; g.removed[table] == 0 || kept*2 > int64(g.created[table]) {
			t.Errorf("%s: created %d, clean-up removed %d; want most removed", table, g.created[table], g.removed[table])
		}
	}
}

func (g *growth) checkSessions(t *testing.T) {
	ctx := t.Context()
	for _, tr := range g.live {
		got := mustGet(t, "GetSession", g.s.GetSession, tr.s.ID)
		diff(t, "kept session", got, tr.s)
		for _, h := range tr.hashes {
			if got, err := g.s.GetSessionByRefreshHash(ctx, h); err != nil || got.ID != tr.s.ID {
				t.Errorf("GetSessionByRefreshHash(a kept session's hash) = %s, %v; want %s", got.ID, err, tr.s.ID)
			}
		}
	}
	for _, tr := range g.gone {
		if _, err := g.s.GetSession(ctx, tr.s.ID); !isNotFound(err) {
			t.Errorf("GetSession(deleted): got %v, want ErrNotFound", err)
		}
		for _, h := range tr.hashes {
			if _, err := g.s.GetSessionByRefreshHash(ctx, h); !isNotFound(err) {
				t.Errorf("GetSessionByRefreshHash(a deleted session's hash): got %v, want ErrNotFound", err)
			}
		}
	}
}

func (g *growth) checkThrottlesAndAudit(t *testing.T) {
	got, err := g.s.GetThrottles(t.Context(), g.keys)
	must(t, "GetThrottles", err)
	sortThrottles(got)
	var want []store.Throttle
	for _, th := range g.throttles {
		want = append(want, th)
	}
	sortThrottles(want)
	diff(t, "throttles kept", got, want)
	wantEvents := slices.Clone(g.events)
	slices.Reverse(wantEvents)
	diff(t, "audit events kept", listAllAudit(t, g.s, store.ListAuditOptions{Limit: 50}), wantEvents)
}

func (g *growth) checkTokens(t *testing.T) {
	for _, tok := range g.tokens {
		got, _, err := peek(t, g.s, tok.Hash)
		must(t, "UseOneTimeToken(kept token)", err)
		diff(t, "kept token", got, tok)
	}
	for _, tok := range g.goneTok {
		if _, _, err := peek(t, g.s, tok.Hash); !isNotFound(err) {
			t.Errorf("UseOneTimeToken(deleted token): got %v, want ErrNotFound", err)
		}
	}
}

func (g *growth) checkFactors(t *testing.T) {
	byUser := map[string][]store.Factor{}
	for _, f := range g.factors {
		byUser[f.UserID] = append(byUser[f.UserID], f)
	}
	for _, u := range g.users {
		wantFactors(t, g.s, "factors kept", u.ID, byCreation(byUser[u.ID])...)
	}
	for _, f := range g.goneFactors {
		wantNoFactor(t, g.s, "deleted pending factor", f.ID, nil)
	}
}

func (g *growth) checkMail(t *testing.T) {
	end := at(growthSteps*growthStep + time.Hour)
	claimed, err := g.s.ClaimMail(t.Context(), end, end.Add(mailLease), 1000)
	must(t, "ClaimMail", err)
	var wantMail mailModel
	for _, m := range g.outbox {
		wantMail = append(wantMail, m)
	}
	slices.SortFunc(wantMail, func(a, b store.OutboxMessage) int { return cmp.Compare(a.ID, b.ID) })
	diff(t, "queued messages kept", claimed, wantMail.claim(end, end.Add(mailLease), 1000))
}
