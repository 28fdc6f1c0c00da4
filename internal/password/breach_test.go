package password

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The breached-password check answers NIST SP 800-63B-4 §3.1.1.2 (verifiers
// SHALL compare a new password against a blocklist of "commonly used,
// expected, or compromised" passwords; Appendix A.3: "passwords from previous
// breach corpuses"; SP 800-63B-3 §5.1.1.2: "passwords obtained from previous
// breach corpuses") and OWASP ASVS 5.0 V6.2.12 ("passwords submitted during
// account registration or password changes are checked against a set of
// breached passwords"). Every test here runs against a local range server on
// httptest, never the real service.

const (
	// breachedPW is in the local corpus 3 times; it passes every local check.
	breachedPW = "correct horse battery staple"
	// paddedPW's suffix is in its bucket only as a padding line (count 0).
	paddedPW = "zebra crossing at dawn"
	// cleanPW is in no bucket.
	cleanPW = "violet kettle under moonlight 42"
)

// upperSHA1 is the range API's form of password's hash: SHA-1 of the NFKC
// form, 40 upper-case hex digits.
func upperSHA1(password string) string {
	s := sha1.Sum([]byte(Normalize(password)))
	return strings.ToUpper(hex.EncodeToString(s[:]))
}

// rangeServer is a local stand-in for the range API. It answers any bucket
// with the suffixes of the passwords it knows that fall in it, 600 filler
// suffixes with counts like real ones and, when the request asks for it, 200
// padding suffixes with count 0, sorted and CRLF-separated as the real
// service does. It records every request.
type rangeServer struct {
	*httptest.Server
	known    map[string]int // upper-case SHA-1 → count
	requests atomic.Int64
	mu       sync.Mutex
	seen     []seenRequest
}

type seenRequest struct {
	method, path, rawQuery, padding string
	dump                            string // the whole request as received
}

func newRangeServer(t *testing.T, counts map[string]int) *rangeServer {
	t.Helper()
	s := &rangeServer{known: map[string]int{}}
	for pw, n := range counts {
		s.known[upperSHA1(pw)] = n
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *rangeServer) base() string { return s.URL + "/range/" }

func (s *rangeServer) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	dump, _ := httputil.DumpRequest(r, true)
	s.mu.Lock()
	s.seen = append(s.seen, seenRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Add-Padding"), string(dump)})
	s.mu.Unlock()
	prefix, ok := strings.CutPrefix(r.URL.Path, "/range/")
	if !ok || len(prefix) != 5 || strings.Trim(prefix, "0123456789ABCDEF") != "" {
		http.Error(w, "The hash prefix was not in a valid format", http.StatusBadRequest)
		return
	}
	fmt.Fprint(w, rangeAnswer(prefix, s.known, r.Header.Get("Add-Padding") == "true"))
}

// rangeAnswer builds the answer for prefix: known's entries in the bucket,
// filler and optional padding.
func rangeAnswer(prefix string, known map[string]int, padded bool) string {
	var lines []string
	for h, n := range known {
		if strings.HasPrefix(h, prefix) {
			lines = append(lines, fmt.Sprintf("%s:%d", h[5:], n))
		}
	}
	fake := func(i int) string {
		s := sha1.Sum(fmt.Appendf(nil, "filler %s %d", prefix, i))
		return strings.ToUpper(hex.EncodeToString(s[:]))[5:]
	}
	for i := range 600 {
		lines = append(lines, fmt.Sprintf("%s:%d", fake(i), i%97+1))
	}
	if padded {
		for i := 600; i < 800; i++ {
			lines = append(lines, fake(i)+":0")
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\r\n")
}

// syncBuffer collects log output; the handler writes from the checking
// goroutine while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func debugLogger() (*slog.Logger, *syncBuffer) {
	var b syncBuffer
	return slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug})), &b
}

// secretForms are the strings that must never leave the checker for a log
// or an error: the password, its hash in either case, its suffix and its
// prefix.
func secretForms(password string) []string {
	h := upperSHA1(password)
	return []string{password, Normalize(password), h, strings.ToLower(h), h[5:], strings.ToLower(h[5:]), h[:5], strings.ToLower(h[:5])}
}

func assertNoSecrets(t *testing.T, what, text, password string) {
	t.Helper()
	for _, s := range secretForms(password) {
		if strings.Contains(text, s) {
			t.Errorf("%s contains %q, a form of the password; want none:\n%s", what, s, text)
		}
	}
}

func newChecker(t *testing.T, o RangeOptions) *RangeChecker {
	t.Helper()
	c, err := NewRangeChecker(o)
	if err != nil {
		t.Fatalf("NewRangeChecker: %v", err)
	}
	return c
}

func reasonCodes(r *Reason) []string {
	if r == nil {
		return nil
	}
	return []string{r.Code}
}

// k-anonymity: the service learns the 5-character prefix and nothing else
// about the password — not the password, not its full hash, not its
// suffix, not a sixth character — and is asked for padding.
func TestRangeCheckerRequestRevealsOnlyPrefix(t *testing.T) {
	srv := newRangeServer(t, map[string]int{breachedPW: 3})
	log, logs := debugLogger()
	c := newChecker(t, RangeOptions{URL: srv.base(), Logger: log})
	for _, pw := range []string{breachedPW, cleanPW, paddedPW} {
		if _, err := c.Check(context.Background(), pw); err != nil {
			t.Fatalf("Check: %v", err)
		}
	}
	srv.mu.Lock()
	seen := slices.Clone(srv.seen)
	srv.mu.Unlock()
	if len(seen) != 3 {
		t.Fatalf("requests = %d, want 3 (one per Check)", len(seen))
	}
	for i, pw := range []string{breachedPW, cleanPW, paddedPW} {
		h, r := upperSHA1(pw), seen[i]
		if r.method != http.MethodGet || r.path != "/range/"+h[:5] || r.rawQuery != "" {
			t.Errorf("request %d = %s %s?%s, want GET /range/%s and no query", i, r.method, r.path, r.rawQuery, h[:5])
		}
		if r.padding != "true" {
			t.Errorf("request %d Add-Padding = %q, want true", i, r.padding)
		}
		// Everything but the path: the prefix is allowed there and only there.
		rest := strings.Replace(r.dump, "/range/"+h[:5], "", 1)
		for _, s := range append(secretForms(pw), h[:6], strings.ToLower(h[:6])) {
			if strings.Contains(rest, s) {
				t.Errorf("request %d carries %q beyond the 5-character prefix:\n%s", i, s, r.dump)
			}
		}
		assertNoSecrets(t, "log", logs.String(), pw)
	}
}

// NIST SP 800-63B-4 §3.1.1.2 / Appendix A.3 (passwords from previous breach
// corpuses), ASVS 5.0 V6.2.12: a breached password is refused, a clean one
// accepted, padding (count 0) is not a breach, and MinCount is honoured.
func TestRangeCheckerBreachCorpus(t *testing.T) {
	srv := newRangeServer(t, map[string]int{breachedPW: 3, paddedPW: 0, "seen exactly once here": 1})
	tests := []struct {
		name     string
		password string
		minCount int
		want     []string
	}{
		{"breached, default MinCount", breachedPW, 0, []string{CodeBreached}},
		{"breached, MinCount at its count", breachedPW, 3, []string{CodeBreached}},
		{"breached, MinCount above its count", breachedPW, 4, nil},
		{"seen once, default MinCount 1", "seen exactly once here", 0, []string{CodeBreached}},
		{"seen once, MinCount 2", "seen exactly once here", 2, nil},
		{"clean: not in its bucket", cleanPW, 0, nil},
		{"padding line with count 0 is not a breach", paddedPW, 0, nil},
		{"breached, typed in fullwidth forms: checked after NFKC", "ｃｏｒｒｅｃｔ\u3000ｈｏｒｓｅ\u3000ｂａｔｔｅｒｙ\u3000ｓｔａｐｌｅ", 0, []string{CodeBreached}},
		{"another case is another password (the corpus is case-sensitive)", "Correct Horse Battery Staple", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newChecker(t, RangeOptions{URL: srv.base(), MinCount: tt.minCount})
			r, err := c.Check(context.Background(), tt.password)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if got := reasonCodes(r); !cmp.Equal(got, tt.want) {
				t.Errorf("Check(%q) with MinCount %d = %v, want %v", tt.password, tt.minCount, got, tt.want)
			}
			if r != nil && r.Message == "" {
				t.Errorf("reason %q has no message", r.Code)
			}
			// Through the policy: the same verdict, after the local checks.
			got, err := Policy{Breached: c}.CheckContext(context.Background(), tt.password, "alice@example.com")
			if err != nil {
				t.Fatalf("CheckContext: %v", err)
			}
			if diff := cmp.Diff(tt.want, codes(got)); diff != "" {
				t.Errorf("CheckContext(%q) codes = %v, want %v", tt.password, codes(got), tt.want)
			}
		})
	}
}

// Over TLS with the operator's client, the check works; with latch's own
// client, an untrusted certificate is a failed lookup, not a verdict:
// certificate verification is on.
func TestRangeCheckerTLS(t *testing.T) {
	known := map[string]int{upperSHA1(breachedPW): 3}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, rangeAnswer(strings.TrimPrefix(r.URL.Path, "/range/"), known, true))
	}))
	// The refused handshake below is expected; keep it out of the output.
	srv.Config.ErrorLog = stdlog.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()

	c := newChecker(t, RangeOptions{URL: srv.URL + "/range/", HTTPClient: srv.Client()})
	if r, err := c.Check(context.Background(), breachedPW); err != nil || reasonCodes(r) == nil {
		t.Errorf("Check over TLS with a trusting client = %v, %v; want breached", r, err)
	}

	log, logs := debugLogger()
	c = newChecker(t, RangeOptions{URL: srv.URL + "/range/", FailClosed: true, Logger: log})
	r, err := c.Check(context.Background(), breachedPW)
	if err != nil || !cmp.Equal(reasonCodes(r), []string{CodeBreachCheckUnavailable}) {
		t.Errorf("Check against an untrusted certificate = %v, %v; want breach_check_unavailable", r, err)
	}
	if !strings.Contains(logs.String(), "certificate") {
		t.Errorf("log = %q, want the certificate failure named", logs.String())
	}
}

// A service that cannot answer: fail-open accepts the password with a
// warning; fail-closed refuses it with breach_check_unavailable, also with a
// warning. Neither warning carries the password, its hash or the prefix,
// and neither waits much past Timeout.
func TestRangeCheckerServiceFailures(t *testing.T) {
	// short is the Timeout of the cases about time. The others have a
	// patient one: an answer of a megabyte must not lose a race with the
	// clock on a loaded machine, or its case would test the deadline.
	const short, patient = 300 * time.Millisecond, 10 * time.Second
	// release ends the handlers that block, so that closing their servers
	// does not wait on them.
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	block := func(r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}
	elsewhere := newRangeServer(t, map[string]int{breachedPW: 3})
	serve := func(h http.HandlerFunc) string {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return srv.URL + "/range/"
	}
	refused := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return "http://" + addr + "/range/"
	}
	oversized := func(w http.ResponseWriter, r *http.Request) {
		line := []byte(strings.Repeat("A", 35) + ":1\r\n")
		for n := 0; n <= maxRangeAnswer; n += len(line) {
			if _, err := w.Write(line); err != nil {
				return
			}
		}
	}
	tests := []struct {
		name string
		url  string
		// wantErr is a fragment of the warning's err, naming the cause.
		wantErr string
		// timeout is the checker's Timeout.
		timeout time.Duration
	}{
		{"status 500", serve(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "oops", http.StatusInternalServerError)
		}), "500", patient},
		{"status 429", serve(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "2")
			http.Error(w, "slow down", http.StatusTooManyRequests)
		}), "429", patient},
		{"status 404", serve(http.NotFound), "404", patient},
		{"redirect, even to a working range server, is not followed", serve(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusFound)
		}), "302", patient},
		{"no answer within Timeout", serve(func(w http.ResponseWriter, r *http.Request) {
			block(r)
		}), "deadline", short},
		{"body stalls within Timeout", serve(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, strings.Repeat("A", 35)+":1\r\n")
			w.(http.Flusher).Flush()
			block(r)
		}), "read range answer", short},
		{"connection refused", refused(), "refused", patient},
		{"oversized answer", serve(oversized), "exceeds", patient},
		{"garbage answer", serve(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "<!doctype html><html><body><h1>Service Unavailable</h1>\n<p>Try later.</p></body></html>\n")
		}), "no SUFFIX:COUNT", patient},
		{"empty answer", serve(func(w http.ResponseWriter, r *http.Request) {}), "no SUFFIX:COUNT", patient},
	}
	for _, tt := range tests {
		for _, failClosed := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/fail closed %v", tt.name, failClosed), func(t *testing.T) {
				log, logs := debugLogger()
				c := newChecker(t, RangeOptions{URL: tt.url, Timeout: tt.timeout, FailClosed: failClosed, Logger: log})
				start := time.Now()
				got, err := Policy{Breached: c}.CheckContext(context.Background(), breachedPW, "")
				if err != nil {
					t.Fatalf("CheckContext error = %v, want nil: a service failure is a verdict, not an error", err)
				}
				if d := time.Since(start); d > tt.timeout+2*time.Second {
					t.Errorf("CheckContext took %s, want about Timeout (%s) at most", d, tt.timeout)
				}
				var want []string
				if failClosed {
					want = []string{CodeBreachCheckUnavailable}
				}
				if diff := cmp.Diff(want, codes(got)); diff != "" {
					t.Errorf("CheckContext codes = %v, want %v", codes(got), want)
				}
				for _, r := range got {
					if r.Message == "" {
						t.Errorf("reason %q has no message", r.Code)
					}
				}
				out := logs.String()
				if strings.Count(out, "level=WARN") != 1 || !strings.Contains(out, "breached-password check unavailable") {
					t.Errorf("log = %q, want exactly one warning that the check is unavailable", out)
				}
				if !strings.Contains(out, tt.wantErr) {
					t.Errorf("log = %q, want the cause (%q) named", out, tt.wantErr)
				}
				assertNoSecrets(t, "log", out, breachedPW)
			})
		}
	}
	if n := elsewhere.requests.Load(); n != 0 {
		t.Errorf("redirect target got %d requests, want 0: redirects are not followed", n)
	}
}

// The caller's cancellation or deadline ends the lookup at once and is an
// error — the request is gone, there is no one to answer — not a failure of
// the service: no warning, and no breach_check_unavailable even when
// failing closed.
func TestRangeCheckerCallerContext(t *testing.T) {
	// hanging serves a range service that never answers; arrived receives
	// once its first request is in.
	hanging := func(t *testing.T) (url string, arrived <-chan struct{}) {
		ch := make(chan struct{}, 1)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case ch <- struct{}{}:
			default:
			}
			<-r.Context().Done()
		}))
		t.Cleanup(srv.Close)
		return srv.URL, ch
	}
	for _, failClosed := range []bool{false, true} {
		t.Run(fmt.Sprintf("cancel/fail closed %v", failClosed), func(t *testing.T) {
			url, arrived := hanging(t)
			log, logs := debugLogger()
			c := newChecker(t, RangeOptions{URL: url, Timeout: time.Minute, FailClosed: failClosed, Logger: log})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				<-arrived
				cancel()
			}()
			start := time.Now()
			got, err := Policy{Breached: c}.CheckContext(ctx, breachedPW, "")
			if !errors.Is(err, context.Canceled) {
				t.Errorf("CheckContext error = %v, want context.Canceled", err)
			}
			if got != nil {
				t.Errorf("CheckContext reasons = %v, want none with the error", codes(got))
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("CheckContext took %s, want it to return at once on cancellation", d)
			}
			if strings.Contains(logs.String(), "level=WARN") {
				t.Errorf("log = %q, want no warning for the caller's own cancellation", logs.String())
			}
		})
		t.Run(fmt.Sprintf("deadline/fail closed %v", failClosed), func(t *testing.T) {
			url, _ := hanging(t)
			c := newChecker(t, RangeOptions{URL: url, Timeout: time.Minute, FailClosed: failClosed})
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			r, err := c.Check(ctx, breachedPW)
			if !errors.Is(err, context.DeadlineExceeded) || r != nil {
				t.Errorf("Check = %v, %v; want no reason and context.DeadlineExceeded (the caller's deadline)", r, err)
			}
			if err != nil {
				assertNoSecrets(t, "error", err.Error(), breachedPW)
			}
		})
	}
	t.Run("already cancelled", func(t *testing.T) {
		url, _ := hanging(t)
		c := newChecker(t, RangeOptions{URL: url})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := c.Check(ctx, breachedPW); !errors.Is(err, context.Canceled) {
			t.Errorf("Check error = %v, want context.Canceled", err)
		}
	})
}

// A password the local checks refuse is never looked up: not even its hash
// prefix leaves the process, and no round trip is spent on it.
func TestPolicyCheckContextLocalRefusalMakesNoRequest(t *testing.T) {
	srv := newRangeServer(t, map[string]int{breachedPW: 3})
	c := newChecker(t, RangeOptions{URL: srv.base(), FailClosed: true})
	p := Policy{Breached: c}
	tests := []struct {
		name, password, email string
	}{
		{"too short", "corre", ""},
		{"too long", strings.Repeat("correct horse ", 20), ""},
		{"far too long (TooLong)", strings.Repeat("a", 1<<20), ""},
		{"common", "password1", ""},
		{"the email", "alice.smith@example.com", "alice.smith@example.com"},
		{"control character", "correct\thorse battery", ""},
		{"invalid UTF-8", "correct\xffhorse battery", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := srv.requests.Load()
			got, err := p.CheckContext(context.Background(), tt.password, tt.email)
			if err != nil {
				t.Fatalf("CheckContext: %v", err)
			}
			want := p.Check(tt.password, tt.email)
			if len(want) == 0 {
				t.Fatalf("Check(%q) = nil, want a local refusal (test case is wrong)", tt.password)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("CheckContext reasons differ from Check's (-Check +CheckContext):\n%s", diff)
			}
			if n := srv.requests.Load() - before; n != 0 {
				t.Errorf("requests to the range service = %d, want 0 for a locally refused password", n)
			}
		})
	}
	// And the one that passes locally is looked up, once.
	before := srv.requests.Load()
	if got, _ := p.CheckContext(context.Background(), breachedPW, ""); !cmp.Equal(codes(got), []string{CodeBreached}) {
		t.Errorf("CheckContext(breached) codes = %v, want [breached]", codes(got))
	}
	if n := srv.requests.Load() - before; n != 1 {
		t.Errorf("requests = %d, want 1", n)
	}
}

// fakeBreach is a BreachChecker that answers what it is told and counts
// calls.
type fakeBreach struct {
	reason *Reason
	err    error
	calls  atomic.Int64
	got    string
}

var _ BreachChecker = (*fakeBreach)(nil)

func (f *fakeBreach) Check(_ context.Context, password string) (*Reason, error) {
	f.calls.Add(1)
	f.got = password
	return f.reason, f.err
}

// Check stays local and synchronous: existing callers are unchanged by
// setting Breached.
func TestPolicyCheckIgnoresBreached(t *testing.T) {
	f := &fakeBreach{reason: &Reason{CodeBreached, breachedMessage}}
	p := Policy{Breached: f}
	if got := p.Check(breachedPW, ""); got != nil {
		t.Errorf("Check = %v, want nil: Check never consults Breached", codes(got))
	}
	if got, want := codes(p.Check("short", "")), codes(DefaultPolicy().Check("short", "")); !cmp.Equal(got, want) {
		t.Errorf("Check(short) = %v, want %v as without Breached", got, want)
	}
	if n := f.calls.Load(); n != 0 {
		t.Errorf("Breached calls = %d, want 0", n)
	}
}

func TestPolicyCheckContext(t *testing.T) {
	errDown := errors.New("down")
	tests := []struct {
		name    string
		breach  BreachChecker
		want    []string
		wantErr error
	}{
		{"no checker: local checks only", nil, nil, nil},
		{"nil *RangeChecker behaves as none", (*RangeChecker)(nil), nil, nil},
		{"checker accepts", &fakeBreach{}, nil, nil},
		{"checker refuses", &fakeBreach{reason: &Reason{CodeBreached, breachedMessage}}, []string{CodeBreached}, nil},
		{"checker fails closed", &fakeBreach{reason: &Reason{CodeBreachCheckUnavailable, breachCheckUnavailableMessage}}, []string{CodeBreachCheckUnavailable}, nil},
		{"checker's error is returned, wrapped", &fakeBreach{err: errDown}, nil, errDown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Policy{Breached: tt.breach}.CheckContext(context.Background(), cleanPW, "")
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Errorf("CheckContext error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, codes(got)); diff != "" {
				t.Errorf("CheckContext codes = %v, want %v", codes(got), tt.want)
			}
			if f, ok := tt.breach.(*fakeBreach); ok && f.got != cleanPW {
				t.Errorf("checker got %q, want the password as given (it normalises itself)", f.got)
			}
		})
	}
}

func TestNewRangeChecker(t *testing.T) {
	valid := []struct{ url, wantBase string }{
		{"https://api.pwnedpasswords.com/range/", "https://api.pwnedpasswords.com/range/"},
		{"https://api.pwnedpasswords.com/range", "https://api.pwnedpasswords.com/range/"},
		{"HTTPS://api.pwnedpasswords.com/range/", "https://api.pwnedpasswords.com/range/"},
		{"http://127.0.0.1:8080/pwned/range/", "http://127.0.0.1:8080/pwned/range/"},
		{"http://mirror.internal", "http://mirror.internal/"},
		{"https://user:s3cret@mirror.internal/range/", "https://user:s3cret@mirror.internal/range/"},
	}
	for _, tt := range valid {
		c, err := NewRangeChecker(RangeOptions{URL: tt.url})
		if err != nil {
			t.Errorf("NewRangeChecker(%q) error = %v, want nil", tt.url, err)
			continue
		}
		if c.base != tt.wantBase {
			t.Errorf("NewRangeChecker(%q) base = %q, want %q", tt.url, c.base, tt.wantBase)
		}
		if strings.Contains(c.service, "s3cret") {
			t.Errorf("NewRangeChecker(%q) service (logged) = %q, want the password redacted", tt.url, c.service)
		}
		if c.timeout != 2*time.Second || c.minCount != 1 || c.failClosed {
			t.Errorf("NewRangeChecker(%q) defaults = timeout %s, MinCount %d, fail closed %v; want 2s, 1, false", tt.url, c.timeout, c.minCount, c.failClosed)
		}
	}
	invalid := []struct {
		name string
		o    RangeOptions
		want []string // fragments of the error, one per problem
	}{
		{"no URL", RangeOptions{}, []string{"required"}},
		{"blank URL", RangeOptions{URL: "  "}, []string{"required"}},
		{"ftp", RangeOptions{URL: "ftp://mirror.internal/range/"}, []string{"http or https"}},
		{"file", RangeOptions{URL: "file:///etc/passwd"}, []string{"http or https", "host"}},
		{"no scheme", RangeOptions{URL: "api.pwnedpasswords.com/range/"}, []string{"http or https", "host"}},
		{"no host", RangeOptions{URL: "https:///range/"}, []string{"host"}},
		{"opaque", RangeOptions{URL: "https:range"}, []string{"host"}},
		{"query", RangeOptions{URL: "https://h/range?prefix="}, []string{"query"}},
		{"empty query", RangeOptions{URL: "https://h/range/?"}, []string{"query"}},
		{"fragment", RangeOptions{URL: "https://h/range/#x"}, []string{"fragment"}},
		{"empty fragment", RangeOptions{URL: "https://h/range/#"}, []string{"fragment"}},
		{"malformed", RangeOptions{URL: "http://[::1/range/"}, []string{"malformed"}},
		{"negative timeout", RangeOptions{URL: "https://h/range/", Timeout: -time.Second}, []string{"timeout"}},
		{"negative MinCount", RangeOptions{URL: "https://h/range/", MinCount: -1}, []string{"minimum count"}},
		{"every problem at once", RangeOptions{URL: "ftp://h/?q", Timeout: -1, MinCount: -1}, []string{"http or https", "query", "timeout", "minimum count"}},
		{"credential not echoed", RangeOptions{URL: "ftp://user:s3cret@h/range/"}, []string{"http or https", "user:xxxxx@h"}},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewRangeChecker(tt.o)
			if err == nil {
				t.Fatalf("NewRangeChecker(%+v) = %+v, want an error", tt.o, c)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error = %q, want it to mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error = %q, want the URL's password redacted", err)
			}
		})
	}
}

// A request path is built right whether or not the base ends with "/".
func TestRangeCheckerBaseWithoutSlash(t *testing.T) {
	srv := newRangeServer(t, map[string]int{breachedPW: 3})
	c := newChecker(t, RangeOptions{URL: srv.URL + "/range"})
	r, err := c.Check(context.Background(), breachedPW)
	if err != nil || !cmp.Equal(reasonCodes(r), []string{CodeBreached}) {
		t.Errorf("Check = %v, %v; want breached", r, err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if got, want := srv.seen[0].path, "/range/"+upperSHA1(breachedPW)[:5]; got != want {
		t.Errorf("path = %q, want %q", got, want)
	}
}

func TestRangeCheckerConcurrent(t *testing.T) {
	srv := newRangeServer(t, map[string]int{breachedPW: 3})
	c := newChecker(t, RangeOptions{URL: srv.base()})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			pw, want := cleanPW, []string(nil)
			if i%2 == 0 {
				pw, want = breachedPW, []string{CodeBreached}
			}
			r, err := c.Check(context.Background(), pw)
			if err != nil || !cmp.Equal(reasonCodes(r), want) {
				t.Errorf("Check(%q) = %v, %v; want %v", pw, reasonCodes(r), err, want)
			}
		})
	}
	wg.Wait()
}

func TestRangeCount(t *testing.T) {
	suffix := strings.Repeat("0123456789ABCDEF", 3)[:35]
	other := strings.Repeat("F", 35)
	tests := []struct {
		name        string
		body        string
		wantCount   int
		wantEntries int
	}{
		{"CRLF, no final newline", other + ":5\r\n" + suffix + ":42", 42, 2},
		{"LF with final newline", suffix + ":42\n" + other + ":5\n", 42, 2},
		{"mixed separators and blank lines", "\r\n" + other + ":5\n\n" + suffix + ":7\r\n\r\n", 7, 2},
		{"lower-case hex tolerated", strings.ToLower(suffix) + ":3", 3, 1},
		{"blanks around a line tolerated", "  " + suffix + ":3 \t\r\n", 3, 1},
		{"padding: count 0", suffix + ":0\r\n" + other + ":0", 0, 2},
		{"absent", other + ":9", 0, 1},
		{"repeated: the largest count", suffix + ":2\r\n" + suffix + ":0\r\n" + suffix + ":9", 9, 3},
		{"leading zeros", suffix + ":007", 7, 1},
		{"huge count saturates", suffix + ":99999999999999999999999999", maxCount, 1},
		{"too short a suffix", suffix[1:] + ":3", 0, 0},
		{"too long a suffix", suffix + "0:3", 0, 0},
		{"non-hex suffix", "G" + suffix[1:] + ":3", 0, 0},
		{"no colon", suffix + "3", 0, 0},
		{"other separator", suffix + ";3", 0, 0},
		{"no count", suffix + ":", 0, 0},
		{"negative count", suffix + ":-3", 0, 0},
		{"signed count", suffix + ":+3", 0, 0},
		{"count with a blank", suffix + ": 3", 0, 0},
		{"count with trailing text", suffix + ":3x", 0, 0},
		{"decimal count", suffix + ":3.0", 0, 0},
		{"full 40-digit hash is not a suffix", upperSHA1("x") + ":3", 0, 0},
		{"malformed lines skipped, good ones kept", "<html>\r\n" + suffix + ":4\r\n" + "garbage:1\r\n" + other + ":1", 4, 2},
		{"empty", "", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			count, entries := rangeCount([]byte(tt.body), []byte(suffix))
			if count != tt.wantCount || entries != tt.wantEntries {
				t.Errorf("rangeCount(%q) = %d, %d entries; want %d, %d", tt.body, count, entries, tt.wantCount, tt.wantEntries)
			}
		})
	}
}
