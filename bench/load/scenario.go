package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchauth/latch/bench/internal/hist"
)

// kind is one kind of request a virtual user makes.
type kind int

const (
	kSignup kind = iota
	kLogin
	kRefresh
	kUser
	kVerify
	// kHealthz is no user's request: it is the floor under the others,
	// what latch's HTTP layer (routing, middleware, request log, metrics)
	// costs with no database and no cryptography.
	kHealthz
	// kSSO is a returning person's sign-in into an application: the
	// browser, with a live latch session, asks /v1/authorize for a code,
	// and the application redeems it at /v1/token (two requests, one
	// answer counted).
	kSSO
	numKinds
)

var kindNames = [numKinds]string{"signup", "login", "refresh", "user", "verify", "healthz", "sso"}

// success is the status each kind answers when it worked.
var success = [numKinds]int{http.StatusCreated, http.StatusOK, http.StatusOK, http.StatusOK, http.StatusOK, http.StatusOK, http.StatusOK}

func parseKind(s string) (kind, bool) {
	for k, n := range kindNames {
		if n == s {
			return kind(k), true
		}
	}
	return 0, false
}

// weight is one entry of a mixed blend.
type weight struct {
	k kind
	w int
}

// parseMix reads "user=70,refresh=20,login=8,signup=2".
func parseMix(s string) ([]weight, error) {
	var mix []weight
	for part := range strings.SplitSeq(s, ",") {
		name, num, ok := strings.Cut(strings.TrimSpace(part), "=")
		k, known := parseKind(name)
		w, err := strconv.Atoi(num)
		if !ok || !known || k == kVerify || k == kHealthz || err != nil || w < 0 {
			return nil, fmt.Errorf("-mix: %q is not KIND=WEIGHT with KIND one of signup, login, refresh, user", part)
		}
		mix = append(mix, weight{k, w})
	}
	total := 0
	for _, m := range mix {
		total += m.w
	}
	if total == 0 {
		return nil, fmt.Errorf("-mix %q: the weights add up to 0", s)
	}
	return mix, nil
}

// account is a pre-created user the login, refresh, user and mixed
// scenarios sign in as.
type account struct{ email, password string }

// Pseudo-statuses for requests without a usable HTTP answer; no real
// status is below 100.
const (
	statusTransport = 0 // no answer: refused, reset, timed out
	statusBadBody   = 1 // an answer whose body could not be read as promised
)

// kindStats counts one kind of request by status.
type kindStats struct {
	lat    hist.Histogram // successful answers only
	status [600]atomic.Int64
}

func (s *kindStats) record(status int, ok bool, d time.Duration) {
	s.status[min(max(status, 0), 599)].Add(1)
	if ok {
		s.lat.Record(d)
	}
}

// scenario is what one run does; the runner makes the virtual users.
type scenario struct {
	name    string
	kinds   []weight // one entry with weight 1 except for mixed
	verify  func(ctx context.Context, accessToken string) (int, error)
	needTok bool // each virtual user starts with a session of its own
}

// runner drives one run: c virtual users in a closed loop, each sending
// its next request when the last one is answered, as a client
// application does.
type runner struct {
	api      *api
	sc       scenario
	pool     []account
	runID    string
	runIdx   int // the run's place in the plan, so that signup emails never repeat
	password string
	honorRA  bool
	// rate > 0 makes the loop open: together the virtual users send rate
	// requests a second on a fixed schedule, whatever the answers' speed,
	// and a latency counts from the scheduled send, so a request that
	// waited for a busy client is not hidden (no coordinated omission).
	rate   float64
	period time.Duration // open loop: between two requests of one user

	// An answer is measured when it arrives inside the window, whenever
	// its request was sent: in a steady state that counts exactly the
	// throughput, and neither the requests still in flight from the
	// warmup nor those cut off at the end bias it.
	stats     [numKinds]kindStats
	measuring atomic.Bool
	n         int64         // measured answers wanted; 0 for no limit
	answers   atomic.Int64  // measured so far
	full      chan struct{} // closed when the n-th answer is measured
	fullOnce  sync.Once
	stop      chan struct{} // closed when the virtual users must stop
	relogins  atomic.Int64
}

// vu is one virtual user: its own session, as a real client keeps.
type vu struct {
	id      int
	next    time.Time // open loop: when the next request is due
	at, rt  string
	browser string // sso: the latch session cookie
	acct    account
	rng     *rand.Rand
	signups int
}

// measure reports whether an answer arriving now is in the window, and
// closes the window at the n-th.
func (r *runner) measure() bool {
	if !r.measuring.Load() {
		return false
	}
	if r.n == 0 {
		return true
	}
	got := r.answers.Add(1)
	if got == r.n {
		r.measuring.Store(false)
		r.fullOnce.Do(func() { close(r.full) })
	}
	return got <= r.n
}

// sleep waits d unless the run ends first; it reports whether the run
// goes on.
func (r *runner) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.stop:
		return false
	case <-ctx.Done():
		return false
	}
}

func (r *runner) pick(v *vu) kind {
	if len(r.sc.kinds) == 1 {
		return r.sc.kinds[0].k
	}
	total := 0
	for _, m := range r.sc.kinds {
		total += m.w
	}
	n := v.rng.IntN(total)
	for _, m := range r.sc.kinds {
		if n < m.w {
			return m.k
		}
		n -= m.w
	}
	return r.sc.kinds[len(r.sc.kinds)-1].k
}

// signIn gets v a new session as its account, waiting out a busy server:
// the setup of a run and the recovery from a refused token both need one
// and must not fail for a transient 503.
func (r *runner) signIn(ctx context.Context, v *vu) error {
	if r.sc.kinds[0].k == kSSO {
		return r.browserSignIn(ctx, v)
	}
	var last string
	for range 20 {
		rep, err := r.api.login(ctx, v.acct.email, v.acct.password)
		switch {
		case err != nil:
			last = err.Error()
		case rep.status == http.StatusOK:
			v.at, v.rt = rep.tokens.Access, rep.tokens.Refresh
			return nil
		default:
			last = "status " + strconv.Itoa(rep.status)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(max(rep.retryAfter, 50*time.Millisecond))
	}
	return fmt.Errorf("sign in as %s: %s", v.acct.email, last)
}

// once sends v's next request of kind k and keeps what a client keeps
// from the answer.
func (r *runner) once(ctx context.Context, v *vu, k kind) (reply, error) {
	switch k {
	case kSignup:
		v.signups++
		email := fmt.Sprintf("s%s-%d-%d-%d@example.com", r.runID, r.runIdx, v.id, v.signups)
		rep, err := r.api.signup(ctx, email, r.password)
		if err == nil && rep.status == http.StatusCreated {
			v.at, v.rt = rep.tokens.Access, rep.tokens.Refresh
		}
		return rep, err
	case kLogin:
		rep, err := r.api.login(ctx, v.acct.email, v.acct.password)
		if err == nil && rep.status == http.StatusOK {
			v.at, v.rt = rep.tokens.Access, rep.tokens.Refresh
		}
		return rep, err
	case kRefresh:
		rep, err := r.api.refresh(ctx, v.rt)
		if err == nil && rep.status == http.StatusOK {
			v.at, v.rt = rep.tokens.Access, rep.tokens.Refresh
		}
		return rep, err
	case kUser:
		return r.api.user(ctx, v.at)
	case kVerify:
		status, err := r.sc.verify(ctx, v.at)
		return reply{status: status}, err
	case kHealthz:
		return r.api.do(ctx, http.MethodGet, "/healthz", "", nil, "", 0)
	case kSSO:
		return r.api.sso(ctx, v.browser)
	}
	panic("unknown kind")
}

func (r *runner) loop(ctx context.Context, v *vu) {
	for {
		select {
		case <-r.stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		k := r.pick(v)
		t0 := time.Now()
		if r.rate > 0 {
			if wait := time.Until(v.next); wait > 0 && !r.sleep(ctx, wait) {
				return
			}
			t0 = v.next
			v.next = v.next.Add(r.period)
		}
		rep, err := r.once(ctx, v, k)
		d := time.Since(t0)
		if ctx.Err() != nil {
			return // interrupted: the answer is not the server's doing
		}
		ok := err == nil && rep.status == success[k]
		if r.measure() {
			status := rep.status
			if err != nil && status != 0 {
				status = statusBadBody
			}
			r.stats[k].record(status, ok, d)
		}
		switch {
		case ok:
		case err != nil && rep.status == statusTransport:
			// No answer (connection refused or reset): pause briefly
			// rather than spin.
			if !r.sleep(ctx, 10*time.Millisecond) {
				return
			}
		case (rep.status == http.StatusTooManyRequests || rep.status == http.StatusServiceUnavailable) && rep.retryAfter > 0 && r.honorRA:
			if !r.sleep(ctx, rep.retryAfter) {
				return
			}
		case (k == kRefresh && rep.status == http.StatusBadRequest) || ((k == kUser || k == kVerify) && rep.status == http.StatusUnauthorized) ||
			(k == kSSO && rep.status == http.StatusSeeOther):
			// The session or token is gone (expired, or revoked by
			// re-use detection): a client signs in again.
			r.relogins.Add(1)
			if r.signIn(ctx, v) != nil && !r.sleep(ctx, 100*time.Millisecond) {
				return
			}
		}
	}
}

// runOnce runs r.sc with c virtual users: warmup unmeasured, then a
// window of d, or until n answers are measured if that comes first. The
// requests in flight at the end are let finish, unmeasured. loaded is
// called once the virtual users are set up, just before they start. It
// returns the length of the window.
func (r *runner) runOnce(ctx context.Context, c int, warmup, d time.Duration, n int64, setupLog func(string), loaded func()) (time.Duration, error) {
	vus := make([]*vu, c)
	for i := range vus {
		vus[i] = &vu{id: i, rng: rand.New(rand.NewPCG(uint64(i), 0x1a7c4)), acct: r.pool[i%len(r.pool)]}
	}
	if r.sc.needTok {
		setupLog(fmt.Sprintf("signing in %d virtual users", c))
		if err := parallel(ctx, 4, len(vus), func(i int) error { return r.signIn(ctx, vus[i]) }); err != nil {
			return 0, err
		}
	}
	r.stop, r.full, r.n = make(chan struct{}), make(chan struct{}), n
	if r.rate > 0 {
		// Each user sends every c/rate seconds, the users spread evenly
		// over one period.
		r.period = time.Duration(float64(c) / r.rate * float64(time.Second))
		first := time.Now().Add(10 * time.Millisecond)
		for i, v := range vus {
			v.next = first.Add(time.Duration(i) * r.period / time.Duration(c))
		}
	}
	loaded()
	var wg sync.WaitGroup
	for _, v := range vus {
		wg.Go(func() { r.loop(ctx, v) })
	}
	if warmup > 0 {
		r.sleep(ctx, warmup)
	}
	start := time.Now()
	r.measuring.Store(true)
	var timeout <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-timeout:
	case <-r.full:
	case <-ctx.Done():
	}
	r.measuring.Store(false)
	window := time.Since(start)
	close(r.stop)
	wg.Wait()
	return window, ctx.Err()
}

// parallel calls fn(0..n-1) on at most workers goroutines and returns
// the first error.
func parallel(ctx context.Context, workers, n int, fn func(i int) error) error {
	var next atomic.Int64
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		})
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// verifyHTTP serves h on a loopback httptest server, as a resource
// server in front of its API would, and returns a request function.
func verifyHTTP(h http.Handler, c int, timeout time.Duration) (func(context.Context, string) (int, error), func()) {
	srv := httptest.NewServer(h)
	a := &api{base: srv.URL, hc: newHTTPClient(c, timeout)}
	return func(ctx context.Context, at string) (int, error) {
		rep, err := a.do(ctx, http.MethodGet, "/api/resource", "", nil, at, 0)
		return rep.status, err
	}, srv.Close
}

// verifyDirect calls h without HTTP: the verify middleware's own cost.
func verifyDirect(h http.Handler) func(context.Context, string) (int, error) {
	return func(ctx context.Context, at string) (int, error) {
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/api/resource", nil)
		req.Header.Set("Authorization", "Bearer "+at)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, nil
	}
}
