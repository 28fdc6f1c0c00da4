// Command load is latch's load generator: it drives a running latch (or
// one it builds and starts itself) with closed-loop virtual users and
// reports throughput, latency, errors by status and the server's memory,
// next to raw baselines measured in the same run on the same machine.
//
//	go run ./bench/load -start -scenario refresh,user -c 8,64 -d 10s
//	go run ./bench/load -url http://127.0.0.1:8080 -pid 1234 -scenario login -c 8
//
// See bench/README.md for the scenarios and how to read the ratios.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/latchauth/latch/bench/internal/hist"
	"github.com/latchauth/latch/bench/internal/result"
	"github.com/latchauth/latch/verify"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("bad usage")

// maxRun bounds a run given only -n, so that a server that stops
// answering cannot keep the generator going for ever.
const maxRun = 10 * time.Minute

type config struct {
	url, bin, repo, database string
	label                    string
	start, jsonOut, keep     bool
	honorRA                  bool
	serverEnv                []string
	pid                      int
	plan                     []step
	n                        int64
	d, warmup, baseline      time.Duration
	timeout                  time.Duration
	mix                      string
	users                    int
	rate                     float64
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pf := c.define(fs)
	if err := fs.Parse(args); err != nil {
		return c, errUsage
	}
	var problems []string
	if fs.NArg() > 0 {
		problems = append(problems, "unexpected arguments: "+strings.Join(fs.Args(), " "))
	}
	if (c.url == "") == !c.start {
		problems = append(problems, "give exactly one of -url and -start")
	}
	problems = append(problems, c.makePlan(pf)...)
	problems = append(problems, c.limitProblems()...)
	if len(problems) > 0 {
		fmt.Fprintln(stderr, strings.Join(problems, "\n"))
		return c, errUsage
	}
	return c, nil
}

// planFlags are the flags that together make config.plan.
type planFlags struct {
	scenarios, concurrencies, verifyModes *string
}

// define registers every flag on fs: those that set a field of c directly,
// and those, returned, that make the plan.
func (c *config) define(fs *flag.FlagSet) planFlags {
	fs.StringVar(&c.url, "url", "", "base URL of a running latch (started with LATCH_RATE_LIMIT=off); or use -start")
	fs.BoolVar(&c.start, "start", false, "build and start latch from this repository on a free loopback port, and stop it at the end")
	fs.StringVar(&c.bin, "bin", "", "with -start: a latch binary to run instead of building one")
	fs.StringVar(&c.repo, "repo", "", "with -start: the repository to build (default: the one holding the working directory)")
	fs.StringVar(&c.database, "database", "sqlite", "with -start: sqlite (a temporary file), or a postgres:// URL in which a scratch schema is created and dropped")
	fs.Func("server-env", "with -start: an extra KEY=VALUE for latch's environment (repeatable)", func(s string) error {
		if !strings.Contains(s, "=") {
			return errors.New("want KEY=VALUE")
		}
		c.serverEnv = append(c.serverEnv, s)
		return nil
	})
	fs.IntVar(&c.pid, "pid", 0, "with -url: the server's process id, for its RSS and CPU")
	var pf planFlags
	pf.scenarios = fs.String("scenario", "user", "comma-separated: signup, login, refresh, user, verify, sso (a returning sign-in through /v1/authorize), mixed, or healthz (the HTTP floor); each runs at every -c, or at C only if written NAME@C")
	pf.concurrencies = fs.String("c", "8", "comma-separated concurrencies (virtual users)")
	fs.Float64Var(&c.rate, "rate", 0, "open loop: offered requests per second across all virtual users, on a fixed schedule, latency counted from each scheduled send; 0: closed loop")
	fs.Int64Var(&c.n, "n", 0, "measured requests per run (0: no count limit; -d bounds the run)")
	fs.DurationVar(&c.d, "d", 10*time.Second, "measured duration per run (0: no time limit; -n bounds the run, at most "+maxRun.String()+")")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "unmeasured load before each run")
	fs.DurationVar(&c.baseline, "baseline", 2*time.Second, "duration of each argon2id baseline (the signature ones take half); 0 skips them")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "per-request timeout")
	fs.StringVar(&c.mix, "mix", "user=70,refresh=20,login=8,signup=2", "the mixed scenario's blend, in relative weights")
	pf.verifyModes = fs.String("verify-mode", "http", "verify scenario, comma-separated: http (the middleware behind an httptest server), direct (handler calls, no HTTP)")
	fs.IntVar(&c.users, "users", 64, "at most this many pre-created accounts; virtual users share them round-robin")
	fs.BoolVar(&c.honorRA, "honor-retry-after", true, "after a 429 or 503 with Retry-After, wait that long before the next request, as a well-behaved client does")
	fs.BoolVar(&c.jsonOut, "json", false, "print one JSON object (bench/internal/result.Report) on stdout; the text goes to stderr")
	fs.StringVar(&c.label, "label", "", "names the build under test in the JSON report, when comparing builds (e.g. baseline)")
	fs.BoolVar(&c.keep, "keep", false, "with -start: keep the temporary directory (database, server logs)")
	return pf
}

// makePlan fills c.plan: every scenario at every concurrency (or at the
// one it names), the verify scenario once per verify mode. It returns what
// is wrong with the flags, for the user.
func (c *config) makePlan(pf planFlags) (problems []string) {
	var concs []int
	for s := range strings.SplitSeq(*pf.concurrencies, ",") {
		n, err := parseConc(s)
		if err != nil {
			problems = append(problems, "-c: "+err.Error())
		}
		concs = append(concs, n)
	}
	var verifyModes []string
	for m := range strings.SplitSeq(*pf.verifyModes, ",") {
		if m != "http" && m != "direct" {
			problems = append(problems, fmt.Sprintf("-verify-mode: %q is neither http nor direct", m))
		}
		verifyModes = append(verifyModes, m)
	}
	for s := range strings.SplitSeq(*pf.scenarios, ",") {
		name, at, hasAt := strings.Cut(s, "@")
		if _, ok := parseKind(name); !ok && name != "mixed" {
			problems = append(problems, fmt.Sprintf("-scenario: unknown %q", name))
		}
		cs := concs
		if hasAt {
			n, err := parseConc(at)
			if err != nil {
				problems = append(problems, fmt.Sprintf("-scenario %s: %v", s, err))
			}
			cs = []int{n}
		}
		ms := []string{""}
		if name == "verify" {
			ms = verifyModes
		}
		for _, n := range cs {
			for _, m := range ms {
				c.plan = append(c.plan, step{name, n, m})
			}
		}
	}
	return problems
}

// limitProblems says which of the run's bounds and sizes are out of range.
func (c *config) limitProblems() (problems []string) {
	switch {
	case c.n < 0 || c.d < 0 || c.warmup < 0:
		problems = append(problems, "-n, -d and -warmup must not be negative")
	case c.n == 0 && c.d == 0:
		problems = append(problems, "give -d or -n (or both): a run must end by itself")
	}
	if _, err := parseMix(c.mix); err != nil {
		problems = append(problems, err.Error())
	}
	if c.users < 1 {
		problems = append(problems, "-users must be at least 1")
	}
	if c.rate < 0 || c.rate > 1e6 {
		problems = append(problems, "-rate must be between 0 (closed loop) and 1000000")
	}
	if c.pid != 0 && c.start {
		problems = append(problems, "-pid goes with -url; with -start the harness knows the process")
	}
	return problems
}

// step is one run of the plan: a scenario at a concurrency.
type step struct {
	scenario   string
	c          int
	verifyMode string // verify only
}

func parseConc(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 10000 {
		return 0, fmt.Errorf("%q is not a concurrency in 1..10000", s)
	}
	return n, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	text := stdout
	if cfg.jsonOut {
		text = stderr
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "load: "+format+"\n", a...) }

	rep := result.Report{Started: time.Now().UTC().Format(time.RFC3339), Label: cfg.label, Machine: machine()}
	rep.Target.URL, rep.Target.Database, rep.Target.PID = cfg.url, "unknown", cfg.pid

	if cfg.start {
		stopServer, err := startTarget(ctx, cfg, &rep, logf)
		if err != nil {
			return err
		}
		defer func() {
			if serr := stopServer(); serr != nil && err == nil {
				err = serr
			}
		}()
	}
	if _, err := url.Parse(rep.Target.URL); err != nil {
		return fmt.Errorf("-url: %w", err)
	}
	rep.Target.URL = strings.TrimSuffix(rep.Target.URL, "/")

	su, err := prepare(ctx, cfg, &rep, text, logf)
	if err != nil {
		return err
	}
	mix, _ := parseMix(cfg.mix)
	for i, st := range cfg.plan {
		sc, closeVerify := stepScenario(st, mix, su.mw, cfg.timeout)
		logf("run %s c=%d %s", st.scenario, st.c, st.verifyMode)
		r, err := measureRun(ctx, cfg, &rep, su.bl, &runner{api: su.api, sc: sc, pool: su.pool, runID: su.runID, runIdx: i, password: su.password, honorRA: cfg.honorRA, rate: cfg.rate}, st.c, logf)
		closeVerify()
		if err != nil {
			return err
		}
		r.VerifyMode = st.verifyMode
		if st.scenario == "mixed" {
			r.Mix = cfg.mix
		}
		rep.Runs = append(rep.Runs, r)
		printRun(text, &rep, &r)
	}
	if rep.Server != nil {
		rep.Server.FinalRSSMiB, _, _ = procMem(rep.Target.PID)
	}
	if cfg.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(&rep)
	}
	return nil
}

// setup is what every run of the plan shares: the client, the accounts
// the virtual users sign in with, the baselines, and the verify package's
// middleware when the plan has the verify scenario.
type setup struct {
	api             *api
	pool            []account
	runID, password string
	bl              *baseliner
	mw              http.Handler
}

// prepare creates the accounts, measures the baselines, writes the
// report's header to text and builds the verify middleware if needed.
func prepare(ctx context.Context, cfg config, rep *result.Report, text io.Writer, logf func(string, ...any)) (*setup, error) {
	maxC := 0
	for _, st := range cfg.plan {
		maxC = max(maxC, st.c)
	}
	a := &api{base: rep.Target.URL, hc: newHTTPClient(maxC, cfg.timeout)}
	var rb [4]byte
	rand.Read(rb[:])
	runID := hex.EncodeToString(rb[:])
	password := "load test passphrase " + runID

	// Accounts first: the first answer also tells which algorithm signs
	// access tokens, which the signature baseline must use.
	pool, first, err := createAccounts(ctx, a, max(1, min(cfg.users, maxC)), runID, password, logf)
	if err != nil {
		return nil, err
	}
	alg, aud, err := tokenInfo(first.Access)
	if err != nil {
		return nil, err
	}
	rep.Target.Alg = alg

	logf("measuring baselines")
	bl, err := newBaseliner(cfg.baseline, alg)
	if err != nil {
		return nil, err
	}
	rep.Baselines = bl.all()
	printHeader(text, rep)

	var mw http.Handler
	if slices.ContainsFunc(cfg.plan, func(st step) bool { return st.scenario == "verify" }) {
		if mw, err = verifyMiddleware(ctx, a, aud); err != nil {
			return nil, err
		}
	}
	return &setup{api: a, pool: pool, runID: runID, password: password, bl: bl, mw: mw}, nil
}

// createAccounts signs up n accounts, four at a time, all with password,
// and returns them with the tokens the first one received.
func createAccounts(ctx context.Context, a *api, n int, runID, password string, logf func(string, ...any)) ([]account, tokens, error) {
	pool := make([]account, n)
	var first tokens
	logf("creating %d accounts", len(pool))
	err := parallel(ctx, 4, len(pool), func(i int) error {
		pool[i] = account{email: fmt.Sprintf("u%s-%d@example.com", runID, i), password: password}
		t, err := createAccount(ctx, a, pool[i])
		if i == 0 {
			first = t
		}
		return err
	})
	if err != nil {
		return nil, tokens{}, err
	}
	return pool, first, nil
}

// stepScenario is the scenario a step of the plan runs: its kinds of
// request (mix's blend for the mixed one) and, for the verify scenario,
// how its requests reach mw, with the function that releases that.
func stepScenario(st step, mix []weight, mw http.Handler, timeout time.Duration) (scenario, func()) {
	name := st.scenario
	sc := scenario{name: name, needTok: name != "signup" && name != "login" && name != "healthz"}
	if name == "mixed" {
		sc.kinds = mix
	} else {
		k, _ := parseKind(name)
		sc.kinds = []weight{{k, 1}}
	}
	closeVerify := func() {}
	switch st.verifyMode {
	case "http":
		sc.verify, closeVerify = verifyHTTP(mw, st.c, timeout)
	case "direct":
		sc.verify = verifyDirect(mw)
	}
	return sc, closeVerify
}

// createAccount signs an account up, waiting out a 503 from a busy hash
// queue: setup must not fail for a transient refusal.
func createAccount(ctx context.Context, a *api, acct account) (tokens, error) {
	var last string
	for range 20 {
		rep, err := a.signup(ctx, acct.email, acct.password)
		switch {
		case err != nil:
			last = err.Error()
		case rep.status == http.StatusCreated:
			return rep.tokens, nil
		case rep.status == http.StatusTooManyRequests:
			return tokens{}, errors.New("signup answered 429: run latch with LATCH_RATE_LIMIT=off for a load test")
		default:
			last = "status " + strconv.Itoa(rep.status)
		}
		if ctx.Err() != nil {
			return tokens{}, ctx.Err()
		}
		time.Sleep(max(rep.retryAfter, 50*time.Millisecond))
	}
	return tokens{}, fmt.Errorf("sign up %s: %s", acct.email, last)
}

// startTarget builds (unless -bin) and starts latch on a fresh database
// twice: a cold start that migrates and generates keys, then a restart
// over the same database, which is the one loaded. It fills rep.Target
// and rep.Server and returns the clean-up.
func startTarget(ctx context.Context, cfg config, rep *result.Report, logf func(string, ...any)) (func() error, error) {
	dir, err := os.MkdirTemp("", "latch-bench-")
	if err != nil {
		return nil, err
	}
	var cleanups []func() error
	cleanup := func() error {
		var errs []error
		for _, f := range slices.Backward(cleanups) {
			errs = append(errs, f())
		}
		if cfg.keep {
			logf("kept %s", dir)
		} else {
			errs = append(errs, os.RemoveAll(dir))
		}
		return errors.Join(errs...)
	}
	fail := func(err error) (func() error, error) { return nil, errors.Join(err, cleanup()) }

	bin, err := latchBinary(ctx, cfg, dir, logf)
	if err != nil {
		return fail(err)
	}
	db, dbKind, drop, err := targetDatabase(ctx, cfg.database, dir)
	if err != nil {
		return fail(err)
	}
	if drop != nil {
		cleanups = append(cleanups, drop)
	}
	rep.Target.Database = dbKind
	env := serverEnv(dir, db, cfg.serverEnv)
	rep.Target.ServerEnv = cfg.serverEnv

	logf("starting latch (cold, %s)", rep.Target.Database)
	p, cold, err := startLatch(ctx, bin, dir, env, filepath.Join(dir, "latch-cold.log"))
	if err != nil {
		return fail(err)
	}
	if err := p.stop(); err != nil {
		return fail(fmt.Errorf("stop after the cold start: %w", err))
	}
	logf("restarting latch")
	p, ready, err := startLatch(ctx, bin, dir, env, filepath.Join(dir, "latch.log"))
	if err != nil {
		return fail(err)
	}
	cleanups = append(cleanups, func() error {
		if err := p.stop(); err != nil {
			return fmt.Errorf("stop latch: %w (log: %s)", err, p.log)
		}
		return nil
	})
	pid := p.cmd.Process.Pid
	rss, hwm, err := procMem(pid)
	if err != nil {
		return fail(err)
	}
	rep.Target.URL, rep.Target.PID = p.url, pid
	rep.Server = &result.Server{ColdReadyMS: ms(cold), ReadyMS: ms(ready), IdleRSSMiB: rss, IdleHWMMiB: hwm}
	rep.Server.HashSlots, rep.Server.MemoryLimitMiB = hashSizing(p.log)
	return cleanup, nil
}

// latchBinary is -bin, or latch built into dir from -repo (by default the
// repository holding the working directory).
func latchBinary(ctx context.Context, cfg config, dir string, logf func(string, ...any)) (string, error) {
	if cfg.bin != "" {
		return cfg.bin, nil
	}
	repo := cfg.repo
	if repo == "" {
		wd, _ := os.Getwd()
		var err error
		if repo, err = findRepo(wd); err != nil {
			return "", err
		}
	}
	bin := filepath.Join(dir, "latch")
	logf("building latch from %s", repo)
	if err := buildLatch(ctx, repo, bin); err != nil {
		return "", err
	}
	return bin, nil
}

// targetDatabase is the LATCH_DATABASE_URL for -database and what kind it
// is: a new SQLite file in dir, or a scratch schema in PostgreSQL that
// drop removes (nil for SQLite, whose file goes with dir).
func targetDatabase(ctx context.Context, database, dir string) (conn, kind string, drop func() error, err error) {
	if database == "sqlite" {
		return "sqlite:" + filepath.Join(dir, "latch.db"), "sqlite", nil, nil
	}
	conn, drop, err = scratchSchema(ctx, database)
	if err != nil {
		return "", "", nil, err
	}
	return conn, "postgres", drop, nil
}

// serverEnv is latch's whole environment under test: its home and
// database, a fresh secret key, rate limits off, and then extra.
func serverEnv(dir, db string, extra []string) []string {
	var sk [32]byte
	rand.Read(sk[:])
	return append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"LATCH_LOG_FORMAT=json",
		"LATCH_DATABASE_URL=" + db,
		"LATCH_SECRET_KEY=" + hex.EncodeToString(sk[:]),
		"LATCH_RATE_LIMIT=off",
		// Where the sso scenario's application is: a loopback redirect
		// URI, any port.
		"LATCH_REDIRECT_URLS=" + ssoRedirect,
		// A free port for the metrics listener too (its default,
		// 127.0.0.1:9090, may be taken on a shared machine); its address
		// is in the server.start event of latch's log.
		"LATCH_METRICS_ADDR=127.0.0.1:0",
	}, extra...)
}

// verifyMiddleware builds the verify package's middleware for latch's
// tokens. Discovery and keys come from the latch under test whatever host
// its issuer URL names (by default http://localhost:8080, not the port
// latch was started on): the dialer below always connects there.
func verifyMiddleware(ctx context.Context, a *api, aud []string) (http.Handler, error) {
	var disc struct {
		Issuer string `json:"issuer"`
	}
	if err := a.getJSON(ctx, "/.well-known/openid-configuration", &disc); err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	u, _ := url.Parse(a.base)
	host := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, host)
		},
	}}
	v, err := verify.New(ctx, disc.Issuer, verify.Options{Audience: aud, HTTPClient: hc})
	if err != nil {
		return nil, err
	}
	return v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := verify.ClaimsFrom(r.Context())
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"sub":"`+c.Subject+`"}`)
	})), nil
}

// measureRun runs one scenario at concurrency c and gathers its figures,
// the server's peak RSS and everyone's CPU over the measured window.
func measureRun(ctx context.Context, cfg config, rep *result.Report, bl *baseliner, r *runner, c int, logf func(string, ...any)) (result.Run, error) {
	out := result.Run{Scenario: r.sc.name, Concurrency: c, Rate: r.rate, WarmupS: cfg.warmup.Seconds()}
	if bl.d > 0 {
		logf("measuring the baselines of this run")
	}
	floors := runFloors(bl, r.sc.kinds)
	u := usage{pid: rep.Target.PID, pg: rep.Target.Database == "postgres"}
	if r.sc.name == "verify" {
		// The verify scenario runs in this process; latch only issued the
		// tokens and is idle, so its memory and CPU say nothing.
		u.pid = 0
	}
	d := cfg.d
	if d == 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, maxRun)
		defer cancel()
	}
	// CPU and memory are sampled around the whole load, warmup included
	// but the virtual users' sign-ins excluded (they hash passwords, which
	// the scenario may not), then scaled to seconds of wall time; the
	// warmup runs the same load, so the per-second figures agree.
	elapsed, err := r.runOnce(ctx, c, cfg.warmup, d, cfg.n, func(s string) { logf("%s", s) }, func() { u.start(&out) })
	if err != nil {
		return out, err
	}
	u.stop(&out)
	out.ElapsedS = elapsed.Seconds()
	out.Relogins = r.relogins.Load()
	out.Kinds, out.Total = kindFigures(r, &floors, elapsed)
	setCPUCost(&out)
	return out, nil
}

// floor is the raw baseline a kind of request is compared with.
type floor struct {
	name string
	rate rawRate
}

// runFloors measures, or recalls, the baseline of each kind in kinds.
func runFloors(bl *baseliner, kinds []weight) [numKinds]floor {
	var floors [numKinds]floor
	byName := map[string]rawRate{} // signup and login share one
	for _, w := range kinds {
		name, rate := bl.forKind(w.k, byName)
		floors[w.k] = floor{name, rate}
	}
	return floors
}

// usage samples the CPU time of the server, the database, this process
// and the whole machine, and the server's memory, around a run's load.
type usage struct {
	pid int // the server's, or 0 when it is not the one under load
	pg  bool

	srv0, busy0, steal0, self0 float64
	pg0                        map[int]float64
	t0                         time.Time
}

// start takes the first samples, as the load begins, and out's memory
// figures from before it.
func (u *usage) start(out *result.Run) {
	if u.pg {
		u.pg0 = postgresCPU()
	}
	if u.pid != 0 {
		out.PeakReset = resetPeak(u.pid) == nil
		out.ServerRSSBeforeMiB, _, _ = procMem(u.pid)
		u.srv0, _ = procCPU(u.pid)
	}
	u.busy0, u.steal0, _ = machineCPU()
	u.self0 = selfCPU()
	u.t0 = time.Now()
}

// stop takes the last samples and sets out's CPU, in cores, and the
// server's peak memory.
func (u *usage) stop(out *result.Run) {
	wall := time.Since(u.t0).Seconds()
	srv1, _ := procCPU(u.pid)
	busy1, steal1, _ := machineCPU()
	self1 := selfCPU()
	if u.pid != 0 {
		_, out.ServerPeakRSSMiB, _ = procMem(u.pid)
		out.ServerCPU = (srv1 - u.srv0) / wall
	}

	out.LoadCPU = (self1 - u.self0) / wall
	if u.pg {
		out.DBCPU = cpuSince(u.pg0, postgresCPU()) / wall
	}
	out.OtherCPU = max(0, (busy1-u.busy0)/wall-out.ServerCPU-out.LoadCPU-out.DBCPU)
	out.StealCPU = (steal1 - u.steal0) / wall
}

// kindFigures is the figures of each kind of request the run sent or was
// meant to send, each beside its floor, and their total.
func kindFigures(r *runner, floors *[numKinds]floor, elapsed time.Duration) ([]result.Stats, result.Stats) {
	var kinds []result.Stats
	var lat hist.Histogram
	total := result.Stats{Kind: "total", Errors: map[string]int64{}}
	for k := range numKinds {
		s := &r.stats[k]
		st := kindResult(k, s, elapsed)
		if f := floors[k]; f.rate.perS > 0 {
			st.Baseline, st.BaselineRate, st.Ratio = f.name, f.rate.perS, st.OKRate/f.rate.perS
			st.BaselineCPUUS = f.rate.cpuUSOp
		}
		if st.Requests == 0 && !slices.ContainsFunc(r.sc.kinds, func(w weight) bool { return w.k == k }) {
			continue
		}
		kinds = append(kinds, st)
		lat.Merge(&s.lat)
		total.Requests += st.Requests
		total.OK += st.OK
		for label, n := range st.Errors {
			total.Errors[label] += n
		}
	}
	fillRates(&total, &lat, elapsed)
	if len(kinds) == 1 {
		k := kinds[0]
		total.Baseline, total.BaselineRate, total.Ratio, total.BaselineCPUUS = k.Baseline, k.BaselineRate, k.Ratio, k.BaselineCPUUS
	}
	if len(total.Errors) == 0 {
		total.Errors = nil
	}
	return kinds, total
}

// setCPUCost sets out's CPU time per request and its CPU cost: the CPU
// time per successful answer over the floor's.
func setCPUCost(out *result.Run) {
	// Both are per second of wall time (the CPU over warmup and measured
	// window alike, which run the same load), so their quotient is CPU
	// time per request.
	if out.Total.Rate > 0 && out.ServerCPU > 0 {
		out.ServerCPUPerReqUS = out.ServerCPU / out.Total.Rate * 1e6
		out.DBCPUPerReqUS = out.DBCPU / out.Total.Rate * 1e6
	}
	// The cost is per successful answer, refused ones' CPU included: under
	// a flood of logins most answers are cheap 503s, and what matters is
	// what each login that got through cost. The verify scenario's
	// "server" is this process.
	cores := out.ServerCPU
	if out.Scenario == "verify" {
		cores = out.LoadCPU
	}
	if out.Total.BaselineCPUUS > 0 && out.Total.OKRate > 0 && cores > 0 {
		out.CPUCost = cores / out.Total.OKRate * 1e6 / out.Total.BaselineCPUUS
	}
}

func kindResult(k kind, s *kindStats, elapsed time.Duration) result.Stats {
	st := result.Stats{Kind: kindNames[k], Errors: map[string]int64{}}
	for status := range s.status {
		n := s.status[status].Load()
		if n == 0 {
			continue
		}
		st.Requests += n
		switch status {
		case success[k]:
		case statusTransport:
			st.Errors["transport"] += n
		case statusBadBody:
			st.Errors["bad_body"] += n
		default:
			st.Errors[strconv.Itoa(status)] += n
		}
	}
	st.OK = int64(s.lat.Count())
	if len(st.Errors) == 0 {
		st.Errors = nil
	}
	fillRates(&st, &s.lat, elapsed)
	return st
}

func fillRates(st *result.Stats, h *hist.Histogram, elapsed time.Duration) {
	if secs := elapsed.Seconds(); secs > 0 {
		st.Rate = float64(st.Requests) / secs
		st.OKRate = float64(st.OK) / secs
	}
	st.P50MS, st.P90MS, st.P99MS = ms(h.Quantile(0.5)), ms(h.Quantile(0.9)), ms(h.Quantile(0.99))
	st.MaxMS = ms(h.Max())
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func machine() result.Machine {
	m := result.Machine{NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if name, val, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
				m.CPUModel = strings.TrimSpace(val)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
				m.MemMiB = kb / 1024
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			m.LoadAvg, _ = strconv.ParseFloat(f[0], 64)
		}
	}
	return m
}
