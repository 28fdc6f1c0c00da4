package browsertest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// One Chromium serves the whole test process; each person in a test gets
// a tab in a browser context of their own (its own cookies), so the tests
// run in parallel without seeing each other's sessions. Cookies do not
// tell ports apart, and every latch of these tests is on 127.0.0.1.

// chrome is the process's browser, started by the first test that needs
// one and stopped by TestMain.
var chrome struct {
	once   sync.Once
	ctx    context.Context // a chromedp context whose browser runs
	err    error           // why there is none
	cancel func()
}

func TestMain(m *testing.M) {
	code := m.Run()
	if chrome.cancel != nil {
		chrome.cancel()
	}
	os.Exit(code)
}

// browserRequired reports whether a missing browser fails the tests
// rather than skipping them.
func browserRequired() bool {
	return os.Getenv("CI") != "" || os.Getenv("LATCH_BROWSER_TESTS") == "1"
}

// chromiumPath finds the browser: Debian's chromium first.
func chromiumPath() string {
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func startBrowser() {
	path := chromiumPath()
	if path == "" {
		chrome.err = errors.New("no Chromium: looked for /usr/bin/chromium, then chromium, chromium-browser and google-chrome on PATH (Debian: apt-get install chromium)")
		return
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // CI runs as root, where the sandbox cannot start
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 860),
		chromedp.Flag("lang", "en-US"),
		chromedp.Flag("accept-lang", "en-US,en"),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	chrome.cancel = func() { cancelBrowser(); cancelAlloc() }
	// The first Run binds the browser's life to its context, so it gets
	// the long-lived one; a timer bounds the wait instead.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(bctx) }()
	select {
	case err := <-started:
		if err != nil {
			chrome.err = fmt.Errorf("start %s: %w", path, err)
			return
		}
		chrome.ctx = bctx
	case <-time.After(60 * time.Second):
		chrome.err = fmt.Errorf("start %s: no answer within 60 s", path)
	}
}

// needBrowser skips the test, or fails it under CI or
// LATCH_BROWSER_TESTS=1, when there is no browser.
func needBrowser(t *testing.T) context.Context {
	t.Helper()
	chrome.once.Do(startBrowser)
	if chrome.err != nil {
		if browserRequired() {
			t.Fatalf("the browser tests need Chromium (CI or LATCH_BROWSER_TESTS=1 is set): %v", chrome.err)
		}
		t.Skipf("skipping browser test: %v (set LATCH_BROWSER_TESTS=1 to fail instead)", chrome.err)
	}
	return chrome.ctx
}

// person is someone at a browser: one tab in a browser context of its
// own. Its methods read like their steps — open, type, press, see — and
// fail the test with the page's text and console.
type person struct {
	t    *testing.T
	name string
	ctx  context.Context
	shot *shots
	// limit bounds each step: a page that never answers fails the test
	// instead of hanging it.
	limit time.Duration

	mu       sync.Mutex
	console  []consoleEntry // console errors, exceptions, browser log errors and warnings
	requests []*url.URL     // every request the tab made
	docs     []docResponse  // every document the tab loaded
}

// consoleEntry is one problem the console showed.
type consoleEntry struct {
	source string // "console", "exception", or the browser log's source ("network", "security", …)
	text   string
	url    string // the resource it is about, when the browser says
}

func (e consoleEntry) String() string {
	if e.url != "" {
		return e.source + ": " + e.text + " (" + e.url + ")"
	}
	return e.source + ": " + e.text
}

type docResponse struct {
	url    string
	status int64
}

// newPerson opens a tab in a new browser context. The tab closes, and
// its cookies go, when the test ends; each step gives up after limit.
func newPerson(t *testing.T, name string, limit time.Duration) *person {
	t.Helper()
	bctx := needBrowser(t)
	// The tab lives until the test ends, so that a failure can still read
	// the page; each step has its own time limit (stepTimeout).
	ctx, cancelTab := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
	p := &person{t: t, name: name, ctx: ctx, shot: shotsFor(t), limit: limit}
	t.Cleanup(cancelTab)
	if err := chromedp.Listen(ctx, p.record); err != nil {
		t.Fatalf("%s: open a tab: %v", name, err)
	}
	t.Cleanup(p.explainFailure)
	return p
}

// record keeps what a test may assert on later. It runs on the tab's
// reading goroutine, so it only appends.
func (p *person) record(ev any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			p.console = append(p.console, consoleEntry{"console." + string(ev.Type), strings.Join(args, " "), ""})
		}
	case *runtime.EventExceptionThrown:
		p.console = append(p.console, consoleEntry{"exception", (&chromedp.ExceptionError{ExceptionDetails: ev.ExceptionDetails}).Error(), ""})
	case *log.EventEntryAdded:
		// CSP violations and failed loads are reported here.
		if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
			p.console = append(p.console, consoleEntry{string(ev.Entry.Source) + " " + string(ev.Entry.Level), ev.Entry.Text, ev.Entry.URL})
		}
	case *network.EventRequestWillBeSent:
		if u, err := url.Parse(ev.Request.URL); err == nil {
			p.requests = append(p.requests, u)
		}
	case *network.EventResponseReceived:
		if ev.Type == network.ResourceTypeDocument {
			p.docs = append(p.docs, docResponse{ev.Response.URL, ev.Response.Status})
		}
	}
}

// explainFailure prints where the person was and what the page said,
// when the test failed.
func (p *person) explainFailure() {
	if !p.t.Failed() {
		return
	}
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	p.mu.Lock()
	defer p.mu.Unlock()
	var lines []string
	for _, e := range p.console {
		lines = append(lines, e.String())
	}
	p.t.Logf("%s was at %s; the page said:\n%s\nconsole:\n\t%s", p.name, loc, text, strings.Join(lines, "\n\t"))
}

func (p *person) fatalf(format string, args ...any) {
	p.t.Helper()
	p.t.Fatalf(p.name+": "+format, args...)
}

// stepCtx bounds one step.
func (p *person) stepCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(p.ctx, p.limit)
}

// do runs steps, in order, as one step; what names it if it fails.
func (p *person) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	run(p, what, chromedp.Steps(steps...))
}

// run runs an action as one step and returns its value; what names it if
// it fails.
func run[T any](p *person, what string, a chromedp.Action[T]) T {
	p.t.Helper()
	ctx, cancel := p.stepCtx()
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		p.fatalf("%s: %v", what, err)
	}
	return v
}

// call sends a DevTools protocol command as one step and returns its
// result; what names it if it fails.
func call[P, R any](p *person, what string, cmd cdp.Command[P, R], params P) R {
	p.t.Helper()
	ctx, cancel := p.stepCtx()
	defer cancel()
	r, err := chromedp.Call(ctx, cmd, params)
	if err != nil {
		p.fatalf("%s: %v", what, err)
	}
	return r
}

// open loads a page and returns its HTTP status.
func (p *person) open(u string) int64 {
	p.t.Helper()
	return run(p, "open "+u, chromedp.NavigateResponse(u)).Status
}

// typeInto types text into the field, key by key.
func (p *person) typeInto(selector, text string) {
	p.t.Helper()
	p.do("type into "+selector, chromedp.SendKeys(chromedp.CSS(selector), text))
}

// press clicks a button or link that loads a page, waits for it, and
// returns its HTTP status (after redirects).
func (p *person) press(selector string) int64 {
	p.t.Helper()
	ctx, cancel := p.stepCtx()
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(selector)))
	if err != nil {
		p.fatalf("press %s: %v", selector, err)
	}
	return resp.Status
}

// text is the visible text of the first element that matches.
func (p *person) text(selector string) string {
	p.t.Helper()
	return run(p, "read "+selector, chromedp.Text(chromedp.CSS(selector)))
}

// see checks that the page shows text.
func (p *person) see(text string) {
	p.t.Helper()
	if body := p.text("body"); !strings.Contains(body, text) {
		p.fatalf("the page does not say %q", text)
	}
}

// at is the tab's address.
func (p *person) at() *url.URL {
	p.t.Helper()
	s := run(p, "location", chromedp.Location())
	u, err := url.Parse(s)
	if err != nil {
		p.fatalf("location %q: %v", s, err)
	}
	return u
}

// eval runs a script in the page.
func eval[T any](p *person, script string) T {
	p.t.Helper()
	return run(p, "evaluate "+script, chromedp.Evaluate[T](script, chromedp.EvalAwaitPromise))
}

// exists reports whether an element matches now, without waiting.
func (p *person) exists(selector string) bool {
	p.t.Helper()
	return eval[bool](p, fmt.Sprintf(`document.querySelector(%q) !== null`, selector))
}

// cookies are the browser's cookies for a URL.
func (p *person) cookies(u string) []*network.Cookie {
	p.t.Helper()
	return call(p, "cookies of "+u, network.GetCookies, network.GetCookiesParams{URLs: []string{u}}).Cookies
}

func cookieNamed(cs []*network.Cookie, name string) *network.Cookie {
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// viewport sets the window's size; mobile for a phone's.
func (p *person) viewport(width, height int64, mobile bool) {
	p.t.Helper()
	call(p, fmt.Sprintf("viewport %dx%d", width, height), emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: width, Height: height, DeviceScaleFactor: 1, Mobile: mobile,
	})
}

// colorScheme emulates prefers-color-scheme ("light" or "dark").
func (p *person) colorScheme(scheme string) {
	p.t.Helper()
	call(p, "color scheme "+scheme, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
	})
}

// noScript turns JavaScript off in the tab.
func (p *person) noScript() {
	p.t.Helper()
	call(p, "disable scripts", emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
}

// screenshot saves the whole page as name.png in the test's directory.
func (p *person) screenshot(name string) {
	p.t.Helper()
	p.shot.save(p.t, name, run(p, "screenshot "+name, chromedp.FullScreenshot(100)))
}

// step saves a screenshot named after a step of a flow.
func (p *person) step(name string) {
	p.t.Helper()
	p.screenshot(p.name + "-" + name)
}

// problems are the console errors and warnings seen so far; forget
// clears them.
func (p *person) problems() []consoleEntry {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]consoleEntry(nil), p.console...)
}

func (p *person) forget() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.console = nil
}

// requested is every URL the tab asked for so far.
func (p *person) requested() []*url.URL {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*url.URL(nil), p.requests...)
}

// documents is every document the tab loaded so far.
func (p *person) documents() []docResponse {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]docResponse(nil), p.docs...)
}

// shots is where a test's screenshots go: LATCH_SCREENSHOTS (relative to
// the repository root) or the test's temporary directory.
type shots struct{ dir string }

func shotsFor(t *testing.T) *shots {
	t.Helper()
	dir := os.Getenv("LATCH_SCREENSHOTS")
	if dir == "" {
		return &shots{t.TempDir()}
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(repoRoot(t), dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &shots{dir}
}

func (s *shots) save(t *testing.T, name string, png []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(s.dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// repoRoot is the directory of go.mod above the package's.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatalf("no go.mod above %s", dir)
		}
	}
}

// waitPath waits until the tab shows the page at u, loaded. It polls from
// Go, because a page-side poll does not survive the navigations on the
// way (a script submitting a form, redirects).
func waitPath(u string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for {
			loc, err := chromedp.Location()(ctx, t)
			if err == nil && loc == u {
				state, err := chromedp.Evaluate[string](`document.readyState`)(ctx, t)
				if err == nil && state == "complete" {
					return nil
				}
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for %s (last at %s): %w", u, loc, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
}
