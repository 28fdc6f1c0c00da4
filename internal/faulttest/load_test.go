package faulttest

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The load: workers, each a sequential client that signs up, signs in,
// refreshes and signs out, remembering every answer the server
// acknowledged and the one request whose answer never came. After a
// fault, verify checks the server against that memory.

type opKind int

const (
	opSignup opKind = iota
	opLogin
	opRefresh
	opLogout
)

func (k opKind) String() string {
	return [...]string{"signup", "login", "refresh", "logout"}[k]
}

// account is a user whose signup the server acknowledged.
type account struct {
	email, password string
	chains          []*chain
}

// chain is one session as its client knows it.
type chain struct {
	sid       string
	access    string   // the latest acknowledged access token
	refresh   []string // every acknowledged refresh token, oldest first
	loggedOut bool     // a logout was acknowledged

	// Set by verify: the session ended (acknowledged logout, or a logout
	// in flight at the fault that turned out to have committed).
	dead bool
}

func (ch *chain) latest() string { return ch.refresh[len(ch.refresh)-1] }

// op is one request of a worker.
type op struct {
	kind  opKind
	acct  *account // signup (the account it would create), login
	chain *chain   // refresh, logout
}

func (o *op) String() string {
	switch {
	case o == nil:
		return "none"
	case o.chain != nil:
		return fmt.Sprintf("%s of session %s", o.kind, o.chain.sid)
	default:
		return fmt.Sprintf("%s of %s", o.kind, o.acct.email)
	}
}

// worker is one sequential client. Only its own goroutine touches it
// until the load has ended.
type worker struct {
	id       int
	rng      *rand.Rand
	accounts []*account
	signups  int

	// pending is the request whose acknowledgement never came: a
	// transport error, or an answer that is not the success answer. The
	// server may or may not have applied it.
	pending  *op
	endReply reply // the answer that ended the worker, if there was one
	endErr   error // the transport error that ended it, if that
	acks     [4]int
	problems []string // unexpected answers, reported by the test
}

func (w *worker) live() []*chain {
	var out []*chain
	for _, a := range w.accounts {
		for _, ch := range a.chains {
			if !ch.loggedOut {
				out = append(out, ch)
			}
		}
	}
	return out
}

// choose picks the next request: about 12% signups, 13% sign-ins, 60%
// refreshes and 15% sign-outs.
func (w *worker) choose() op {
	live := w.live()
	x := w.rng.IntN(100)
	switch {
	case len(w.accounts) == 0 || x < 12:
		w.signups++
		return op{kind: opSignup, acct: &account{
			email:    fmt.Sprintf("w%d-%d@fault.example.com", w.id, w.signups),
			password: fmt.Sprintf("fault tolerant passphrase %d/%d", w.id, w.signups),
		}}
	case x < 25 || len(live) == 0:
		return op{kind: opLogin, acct: w.accounts[w.rng.IntN(len(w.accounts))]}
	case x < 85:
		return op{kind: opRefresh, chain: live[w.rng.IntN(len(live))]}
	default:
		return op{kind: opLogout, chain: live[w.rng.IntN(len(live))]}
	}
}

func (w *worker) send(c *client, o op) (reply, error) {
	switch o.kind {
	case opSignup:
		return c.signup(o.acct.email, o.acct.password)
	case opLogin:
		return c.login(o.acct.email, o.acct.password)
	case opRefresh:
		return c.refresh(o.chain.latest())
	default:
		return c.logout(o.chain.access)
	}
}

// apply records an acknowledged answer; it reports false if r is not one.
func (w *worker) apply(o op, r reply) bool {
	switch {
	case o.kind == opSignup && r.Status == http.StatusCreated:
		w.accounts = append(w.accounts, o.acct)
		w.newChain(o.acct, r)
	case o.kind == opLogin && r.Status == http.StatusOK:
		w.newChain(o.acct, r)
	case o.kind == opRefresh && r.Status == http.StatusOK:
		access, refresh := tokens(r)
		if access == "" || refresh == "" || sessionID(access) != o.chain.sid {
			w.problems = append(w.problems, fmt.Sprintf("%s: odd token response %s", o.String(), r))
		}
		o.chain.access = access
		o.chain.refresh = append(o.chain.refresh, refresh)
	case o.kind == opLogout && r.Status == http.StatusNoContent:
		o.chain.loggedOut = true
	default:
		return false
	}
	w.acks[o.kind]++
	return true
}

func (w *worker) newChain(a *account, r reply) {
	access, refresh := tokens(r)
	sid := sessionID(access)
	if refresh == "" || sid == "" {
		w.problems = append(w.problems, fmt.Sprintf("token response without tokens or sid: %s", r))
	}
	a.chains = append(a.chains, &chain{sid: sid, access: access, refresh: []string{refresh}})
}

// run sends requests until stop is closed or a request is not
// acknowledged. A 503 or a transport error just ends the worker (the
// fault has come); any other unexpected answer is also a problem.
func (w *worker) run(c *client, stop <-chan struct{}, acked *atomic.Int64) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		o := w.choose()
		r, err := w.send(c, o)
		if err != nil {
			w.pending, w.endErr = &o, err
			return
		}
		if !w.apply(o, r) {
			w.pending, w.endReply = &o, r
			if r.Status != http.StatusServiceUnavailable {
				w.problems = append(w.problems, fmt.Sprintf("%s answered %s", o.String(), r))
			}
			return
		}
		acked.Add(1)
	}
}

// load is a set of workers running against one server.
type load struct {
	workers []*worker
	acked   atomic.Int64
	stop    chan struct{}
	done    chan struct{}
	started time.Time
}

func startLoad(t *testing.T, c *client, n int) *load {
	seed := uint64(time.Now().UnixNano())
	t.Logf("load: %d workers, seed %d", n, seed)
	l := &load{stop: make(chan struct{}), done: make(chan struct{}), started: time.Now()}
	var wg sync.WaitGroup
	for i := range n {
		w := &worker{id: i, rng: rand.New(rand.NewPCG(seed, uint64(i)))}
		l.workers = append(l.workers, w)
		wg.Go(func() { w.run(c, l.stop, &l.acked) })
	}
	go func() { wg.Wait(); close(l.done) }()
	// Whatever happens to the test, the workers stop before it ends (each
	// request is bounded by the client's timeout).
	t.Cleanup(func() {
		l.halt()
		<-l.done
	})
	return l
}

// waitAcked lets the load run until n requests were acknowledged and
// at least min has passed, or until max has passed, whichever comes
// first; by then at least floor requests must have been acknowledged.
// max is generous: on a loaded machine (the whole suite at once under
// -race) the load starts slowly, and the kill must still land in it.
func (l *load) waitAcked(t *testing.T, n int64, min, max time.Duration, floor int64) {
	t.Helper()
	waitFor(max, 5*time.Millisecond, func() bool {
		return l.acked.Load() >= n && time.Since(l.started) >= min
	})
	if got := l.acked.Load(); got < floor {
		t.Fatalf("load: %d requests acknowledged after %v, want at least %d; problems: %v", got, time.Since(l.started).Round(time.Millisecond), floor, l.problems())
	}
}

func (l *load) halt() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
}

// wait waits for every worker to end by itself, for at most d.
func (l *load) wait(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-l.done:
	case <-time.After(d):
		l.halt()
		t.Fatalf("load: workers still running %v after the fault", d)
	}
	for _, p := range l.problems() {
		t.Error(p)
	}
}

func (l *load) problems() []string {
	var out []string
	for _, w := range l.workers {
		for _, p := range w.problems {
			out = append(out, fmt.Sprintf("worker %d: %s", w.id, p))
		}
	}
	return out
}

func (l *load) summary() string {
	var acks [4]int
	var tokens, accounts, chains int
	for _, w := range l.workers {
		for k := range acks {
			acks[k] += w.acks[k]
		}
		accounts += len(w.accounts)
		for _, a := range w.accounts {
			chains += len(a.chains)
			for _, ch := range a.chains {
				tokens += len(ch.refresh)
			}
		}
	}
	var pend []string
	for _, w := range l.workers {
		if w.pending != nil {
			pend = append(pend, w.pending.kind.String())
		}
	}
	slices.Sort(pend)
	return fmt.Sprintf("acknowledged %d signups, %d sign-ins, %d refreshes, %d sign-outs (%d accounts, %d sessions, %d refresh tokens); unacknowledged at the fault: %s",
		acks[opSignup], acks[opLogin], acks[opRefresh], acks[opLogout], accounts, chains, tokens, strings.Join(pend, ", "))
}

// verify checks a server that came back from a fault against what the
// workers were told before it:
//
//   - a session whose logout was acknowledged is over: its access token
//     gets 401, its refresh tokens are inactive and refreshing answers
//     400 invalid_grant;
//   - for every other session the latest acknowledged refresh token is
//     the live one and every older token is inactive (introspection, which
//     has no side effect), and its access token works;
//   - GET /v1/sessions lists every such session and nothing else, but for
//     one session the sign-in in flight at the fault may have created;
//   - refreshing the latest token works twice with the same successor
//     (the grace window), after which the token before it is re-use,
//     which ends the session;
//   - every acknowledged signup can sign in.
//
// The one request in flight per worker at the fault may or may not have
// been applied, and verify accepts either, but only consistently: a
// refresh in flight may have rotated the latest token (then it is the
// parent, which within the grace window still gets the same successor,
// so refreshing it still answers 200); a logout in flight may have ended
// the session (then all of its tokens are dead). grace is the server's
// LATCH_REFRESH_REUSE_GRACE and fault when the fault happened: the
// refresh checks must run inside that window. The tests give latch the
// longest grace it allows (1m): with the default 10 s, a slow restart
// could push the check of a committed in-flight refresh past the window,
// where presenting the parent is re-use and ends the session, which is
// right but would make the expected answer depend on timing.
func verify(t *testing.T, c *client, l *load, fault time.Time, grace time.Duration) {
	t.Helper()
	start := time.Now()
	each := func(f func(w *worker)) {
		var wg sync.WaitGroup
		for _, w := range l.workers {
			wg.Go(func() { f(w) })
		}
		wg.Wait()
	}
	each(func(w *worker) { w.verifyState(t, c) })
	if t.Failed() {
		return
	}
	if left := grace - time.Since(fault); left < 5*time.Second {
		t.Fatalf("verification reached the refresh checks %v after the fault, too close to the %v grace window to judge a refresh in flight", time.Since(fault).Round(time.Millisecond), grace)
	}
	each(func(w *worker) { w.verifyRotation(t, c) })
	each(func(w *worker) { w.verifySignIn(t, c) })
	t.Logf("verified in %v: %s", time.Since(start).Round(time.Millisecond), l.summary())
}

// verifyState is the part of verify that changes nothing.
func (w *worker) verifyState(t *testing.T, c *client) {
	for _, a := range w.accounts {
		listed := map[string]bool{}
		var probe string // a live access token of a
		for _, ch := range a.chains {
			inflight := w.pending != nil && w.pending.chain == ch
			in, err := c.introspect(ch.latest())
			if !expectStatus(t, "introspect latest refresh token", in, err, http.StatusOK) {
				return
			}
			active := in.Body["active"] == true
			u, err := c.try("GET", "/v1/user", ch.access, nil)
			if err != nil {
				t.Errorf("GET /v1/user: %v", err)
				return
			}
			switch {
			case ch.loggedOut:
				ch.dead = true
				if active || u.Status != http.StatusUnauthorized {
					t.Errorf("%s: logout was acknowledged, but its refresh token is active=%v and its access token gets %s, want inactive and 401", a.email, active, u)
				}
			case inflight && w.pending.kind == opLogout:
				// Committed or not, but the token and the session agree.
				ch.dead = !active
				if active != (u.Status == http.StatusOK) || (!active && u.Status != http.StatusUnauthorized) {
					t.Errorf("%s: logout in flight at the fault: refresh token active=%v but access token gets %s", a.email, active, u)
				}
				t.Logf("worker %d: the logout in flight at the fault committed: %v", w.id, ch.dead)
			default:
				if u.Status != http.StatusOK {
					t.Errorf("%s: session %s: access token gets %s, want 200", a.email, ch.sid, u)
				}
				switch {
				case inflight: // a refresh: rotated (inactive now) or not
					t.Logf("worker %d: the refresh in flight at the fault committed: %v", w.id, !active)
				case !active:
					t.Errorf("%s: session %s: the latest acknowledged refresh token (%d in its chain) is inactive: an acknowledged rotation or sign-in was lost", a.email, ch.sid, len(ch.refresh))
				case in.Body["sid"] != ch.sid:
					t.Errorf("%s: latest refresh token introspects to session %v, want %s", a.email, in.Body["sid"], ch.sid)
				}
			}
			for i, old := range ch.refresh[:len(ch.refresh)-1] {
				r, err := c.introspect(old)
				if !expectStatus(t, "introspect old refresh token", r, err, http.StatusOK) {
					return
				}
				if r.Body["active"] != false {
					t.Errorf("%s: session %s: refresh token %d of %d is active after its rotation was acknowledged", a.email, ch.sid, i+1, len(ch.refresh))
				}
			}
			if !ch.dead {
				listed[ch.sid] = false
				probe = ch.access
			}
		}
		if probe == "" {
			continue
		}
		r, err := c.try("GET", "/v1/sessions", probe, nil)
		if !expectStatus(t, "GET /v1/sessions", r, err, http.StatusOK) {
			return
		}
		list, _ := r.Body["sessions"].([]any)
		var unknown []string
		for _, x := range list {
			m, _ := x.(map[string]any)
			id, _ := m["id"].(string)
			if _, ok := listed[id]; ok {
				listed[id] = true
			} else {
				unknown = append(unknown, id)
			}
		}
		for id, seen := range listed {
			if !seen {
				t.Errorf("%s: live session %s is not in GET /v1/sessions: %s", a.email, id, r)
			}
		}
		// A sign-in in flight at the fault may have created a session
		// whose tokens never reached the client.
		allowed := 0
		if w.pending != nil && w.pending.kind == opLogin && w.pending.acct == a {
			allowed = 1
		}
		if len(unknown) > allowed {
			t.Errorf("%s: GET /v1/sessions lists sessions %v that no acknowledged sign-in created (sign-in in flight for this account: %v)", a.email, unknown, allowed == 1)
		}
	}
}

// verifyRotation refreshes every session's latest token: twice for a live
// session (the grace window returns the same successor), then presents
// the token before it, which is re-use and must end the session.
func (w *worker) verifyRotation(t *testing.T, c *client) {
	for _, a := range w.accounts {
		for _, ch := range a.chains {
			r1, err := c.refresh(ch.latest())
			if ch.dead {
				if expectStatus(t, "refresh of an ended session", r1, err, http.StatusBadRequest) && r1.Body["error"] != "invalid_grant" {
					t.Errorf("%s: refresh of an ended session: %s, want invalid_grant", a.email, r1)
				}
				continue
			}
			if !expectStatus(t, a.email+": refresh of the latest acknowledged token", r1, err, http.StatusOK) {
				continue
			}
			r2, err := c.refresh(ch.latest())
			if !expectStatus(t, a.email+": the same refresh again, within the grace window", r2, err, http.StatusOK) {
				continue
			}
			access1, next1 := tokens(r1)
			if _, next2 := tokens(r2); next2 != next1 {
				t.Errorf("%s: two refreshes of one token within the grace window got different successors", a.email)
			}
			if in, err := c.introspect(next1); expectStatus(t, "introspect successor", in, err, http.StatusOK) && in.Body["active"] != true {
				t.Errorf("%s: the successor refresh token is not active: %s", a.email, in)
			}
			// A token signed after the fault is accepted.
			u, err := c.try("GET", "/v1/user", access1, nil)
			expectStatus(t, a.email+": access token issued after the fault", u, err, http.StatusOK)
			if len(ch.refresh) < 2 {
				continue
			}
			r, err := c.refresh(ch.refresh[len(ch.refresh)-2])
			if expectStatus(t, a.email+": re-use of an older refresh token", r, err, http.StatusBadRequest) && r.Body["error"] != "invalid_grant" {
				t.Errorf("%s: re-use: %s, want invalid_grant", a.email, r)
			}
			r, err = c.refresh(next1)
			expectStatus(t, a.email+": refresh after re-use ended the session", r, err, http.StatusBadRequest)
			r, err = c.try("GET", "/v1/user", access1, nil)
			expectStatus(t, a.email+": access token after re-use ended the session", r, err, http.StatusUnauthorized)
		}
	}
}

// verifySignIn signs every acknowledged account in. A signup in flight at
// the fault either created its user or not; if it did, the password works.
func (w *worker) verifySignIn(t *testing.T, c *client) {
	login := func(a *account) (reply, error) {
		// A 503 here can only be the hasher's admission control (the
		// server is healthy again): wait and retry a few times.
		for i := 0; ; i++ {
			r, err := c.login(a.email, a.password)
			if err != nil || r.Status != http.StatusServiceUnavailable || i == 4 {
				return r, err
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	for _, a := range w.accounts {
		r, err := login(a)
		expectStatus(t, "sign-in of "+a.email+", whose signup was acknowledged", r, err, http.StatusOK)
	}
	if w.pending != nil && w.pending.kind == opSignup {
		r, err := login(w.pending.acct)
		switch {
		case err != nil:
			t.Errorf("sign-in after a signup in flight: %v", err)
		case r.Status == http.StatusOK:
			t.Logf("worker %d: the signup in flight at the fault committed", w.id)
		case r.Status == http.StatusBadRequest && r.Body["error"] == "invalid_grant":
			t.Logf("worker %d: the signup in flight at the fault did not commit", w.id)
		default:
			t.Errorf("sign-in after a signup in flight: %s, want 200 or 400 invalid_grant", r)
		}
	}
}
