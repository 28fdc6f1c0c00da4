// Package e2e runs the real latch binary for end-to-end, fault and
// multi-instance tests: it builds the binary once per test process,
// starts `latch serve` with a given environment, talks to it over HTTP
// and runs its other commands.
//
// It is test support only: nothing outside _test.go files imports it.
package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds the real latch binary once per test process.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "latch-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "latch")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/latchauth/latch/cmd/latch").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// Proc is a running `latch serve`.
type Proc struct {
	Cmd *exec.Cmd
	URL string // from the server's own "server.start" log line
	// MetricsURL is the Prometheus endpoint on the metrics listener, from
	// the same log line ("metrics_url"); "" with LATCH_METRICS_ADDR=off.
	MetricsURL string
	logs       *syncBuffer
	done       chan error
	urls       chan startLine
}

// startLine is what the "server.start" log event says about where latch
// listens.
type startLine struct{ url, metricsURL string }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Logs is everything the server wrote to stderr so far.
func (p *Proc) Logs() string { return p.logs.String() }

// Pid is the server's process id.
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// Start runs `latch serve` in dir with LATCH_ADDR=127.0.0.1:0 and
// LATCH_METRICS_ADDR=127.0.0.1:0 (unless env sets them: a later entry
// wins), JSON logs and env, and waits until it listens; over plain HTTP
// it also waits for /healthz. The process is killed at the end of the test.
func Start(t testing.TB, dir string, env ...string) *Proc {
	t.Helper()
	p := Launch(t, dir, env...)
	if err := p.WaitListening(60 * time.Second); err != nil {
		t.Fatalf("%v; logs:\n%s", err, p.Logs())
	}
	if strings.HasPrefix(p.URL, "http://") {
		if r := Do(t, "GET", p.URL+"/healthz", "", nil); r.Status != 200 {
			t.Fatalf("healthz: %d", r.Status)
		}
	}
	return p
}

// Launch starts `latch serve` without waiting for it.
func Launch(t testing.TB, dir string, env ...string) *Proc {
	t.Helper()
	cmd := exec.Command(Binary(t), "serve")
	cmd.Dir = dir
	// Free ports for both listeners: tests run in parallel, and beside
	// other test runs on the same machine, so no fixed port is safe.
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "LATCH_ADDR=127.0.0.1:0", "LATCH_METRICS_ADDR=127.0.0.1:0", "LATCH_LOG_FORMAT=json"}, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &Proc{Cmd: cmd, logs: &syncBuffer{}, done: make(chan error, 1)}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		p.done <- nil
	})
	urls := make(chan startLine, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.logs.Write([]byte(line + "\n"))
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["event"] == "server.start" {
				metrics, _ := m["metrics_url"].(string)
				urls <- startLine{url: m["url"].(string), metricsURL: metrics}
			}
		}
		p.done <- cmd.Wait()
	}()
	p.urls = urls
	return p
}

// WaitListening waits for the server's listening log line.
func (p *Proc) WaitListening(d time.Duration) error {
	select {
	case l := <-p.urls:
		p.URL, p.MetricsURL = l.url, l.metricsURL
		return nil
	case err := <-p.done:
		p.done <- err
		return fmt.Errorf("latch exited before listening: %v", err)
	case <-time.After(d):
		return errors.New("latch did not start")
	}
}

// Stop sends SIGTERM and expects a clean exit within 30 s.
func (p *Proc) Stop(t testing.TB) {
	t.Helper()
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(30 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v; logs:\n%s", err, p.Logs())
	}
}

// Wait waits for the process to exit and returns its error (nil for exit
// status 0).
func (p *Proc) Wait(d time.Duration) error {
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(d):
		return errors.New("latch did not exit")
	}
}

// Metrics scrapes the metrics listener and returns the exposition text.
func (p *Proc) Metrics(t testing.TB) string {
	t.Helper()
	if p.MetricsURL == "" {
		t.Fatal("latch has no metrics listener (no metrics_url in its server.start event)")
	}
	resp, err := Client.Get(p.MetricsURL)
	if err != nil {
		t.Fatalf("scrape %s: %v", p.MetricsURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %d %v", p.MetricsURL, resp.StatusCode, err)
	}
	return string(b)
}

// Reply is an HTTP answer with its JSON body decoded (nil if not JSON).
type Reply struct {
	Status int
	Header http.Header
	Body   map[string]any
}

// Client is the HTTP client Do uses.
var Client = &http.Client{Timeout: 30 * time.Second}

// Do sends a JSON request (body nil for none) and decodes the answer.
func Do(t testing.TB, method, url, bearer string, body any) Reply {
	t.Helper()
	r, err := TryDo(method, url, bearer, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return r
}

// NewRequest makes a request to url with body as JSON (nil for none) and
// bearer as its access token ("" for none).
func NewRequest(method, url, bearer string, body any) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return req, nil
}

// TryDo is Do that returns transport errors instead of failing the test.
func TryDo(method, url, bearer string, body any) (Reply, error) {
	req, err := NewRequest(method, url, bearer, body)
	if err != nil {
		return Reply{}, err
	}
	r, _, err := Send(Client, req)
	return r, err
}

// Send sends req with hc and reads the whole answer: raw is its body as
// it came, and the Reply's Body that read as a JSON object (nil if it is
// not one).
func Send(hc *http.Client, req *http.Request) (r Reply, raw []byte, err error) {
	resp, err := hc.Do(req)
	if err != nil {
		return Reply{}, nil, err
	}
	defer resp.Body.Close()
	raw, err = io.ReadAll(resp.Body)
	if err != nil {
		return Reply{}, nil, err
	}
	r = Reply{Status: resp.StatusCode, Header: resp.Header}
	_ = json.Unmarshal(raw, &r.Body)
	return r, raw, nil
}

// Expect checks the status of r and returns it.
func Expect(t testing.TB, what string, r Reply, status int) Reply {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: got %d %v, want %d", what, r.Status, r.Body, status)
	}
	return r
}

// RunCLI runs a latch command in dir with env and stdin; it returns the
// combined output and the exit status.
func RunCLI(t testing.TB, dir string, env []string, stdin string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(Binary(t), args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "LATCH_LOG_FORMAT=json"}, env...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return string(out), 0
}

// FreeAddr finds a free loopback address, for a public URL that must name
// the address latch will listen on.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
