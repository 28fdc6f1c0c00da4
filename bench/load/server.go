package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// latchProc is a latch server this program started.
type latchProc struct {
	cmd  *exec.Cmd
	url  string
	log  string // path of its combined stdout and stderr
	done chan error
}

// findRepo returns the directory of latch's go.mod at or above dir, so
// that -start works from anywhere in the repository.
func findRepo(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/latchauth/latch\n")) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no latch go.mod at or above %s; give -repo or -bin", dir)
		}
	}
}

func buildLatch(ctx context.Context, repo, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/latch")
	cmd.Dir = repo
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/latch: %w\n%s", err, b)
	}
	return nil
}

// startLatch runs bin serve with env and waits until /readyz answers 200.
// It returns the time from exec to that answer: what a deployment waits
// before it can route traffic to a new instance.
func startLatch(ctx context.Context, bin, dir string, env []string, logPath string) (*latchProc, time.Duration, error) {
	addr, err := freePort()
	if err != nil {
		return nil, 0, err
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, 0, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "serve")
	cmd.Dir = dir
	cmd.Env = append(slices.Clip(env), "LATCH_ADDR="+addr)
	// A file, not a pipe: the kernel writes the per-request log lines
	// without a goroutine of ours copying them, so the load generator's CPU
	// is not charged for the server's logging.
	cmd.Stdout, cmd.Stderr = logf, logf
	p := &latchProc{cmd: cmd, url: "http://" + addr, log: logPath, done: make(chan error, 1)}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, 0, fmt.Errorf("start latch: %w", err)
	}
	go func() { p.done <- cmd.Wait() }()

	probe := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-p.done:
			return nil, 0, fmt.Errorf("latch exited before it was ready (%v); log:\n%s", err, tail(logPath))
		case <-ctx.Done():
			p.stop()
			return nil, 0, ctx.Err()
		default:
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, 0, fmt.Errorf("latch not ready after 60s; log:\n%s", tail(logPath))
		}
		if resp, err := probe.Get(p.url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, time.Since(t0), nil
			}
		}
		time.Sleep(time.Millisecond)
	}
}

// freePort returns a loopback address no one listens on now. latch is
// given it rather than port 0 so that the harness need not read latch's
// log to learn the port: with -server-env LATCH_LOG_LEVEL=warn there is no
// start line to read. Another process taking the port in the moment
// between is possible but unlikely on a loopback address; latch then
// fails to start and says so.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// stop asks latch to shut down as an orchestrator would (SIGTERM), and
// kills it if it has not exited in time.
func (p *latchProc) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		return err
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		return errors.New("latch did not stop within 30s of SIGTERM; killed")
	}
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// scratchSchema creates an empty schema in the PostgreSQL database base
// names and returns a URL whose search_path is that schema, so that every
// run starts from an empty database without needing the right to create
// databases; drop removes it and everything in it.
func scratchSchema(ctx context.Context, base string) (conn string, drop func() error, err error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// Not err: it would quote the URL, password included.
		return "", nil, errors.New("-database must be sqlite or a postgres:// URL")
	}
	c, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer c.Close(ctx)
	var b [6]byte
	rand.Read(b[:])
	schema := "latch_bench_" + hex.EncodeToString(b[:])
	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := c.Exec(ctx, "CREATE SCHEMA "+ident); err != nil {
		return "", nil, fmt.Errorf("create schema: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	drop = func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			return fmt.Errorf("drop schema %s: %w", schema, err)
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+ident+" CASCADE"); err != nil {
			return fmt.Errorf("drop schema %s: %w", schema, err)
		}
		return nil
	}
	return u.String(), drop, nil
}

// hashSizing reads how latch sized password hashing from its start-up
// event in the JSON log at path: the number of hash slots and the soft
// memory limit in MiB (0 when it has none). Both are 0 when the log has
// no such event, as from a build before latch logged it.
func hashSizing(path string) (slots int, limitMiB float64) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0
	}
	for line := range strings.Lines(string(b)) {
		var ev struct {
			Event string `json:"event"`
			Slots int    `json:"slots"`
			Limit string `json:"memory_limit"`
		}
		if json.Unmarshal([]byte(line), &ev) != nil || ev.Event != "hash.sizing" {
			continue
		}
		if n, err := strconv.ParseFloat(strings.TrimSuffix(ev.Limit, "MiB"), 64); err == nil {
			limitMiB = n
		}
		return ev.Slots, limitMiB
	}
	return 0, 0
}

// procMem reads VmRSS and VmHWM (the peak RSS) of pid, in MiB.
func procMem(pid int) (rss, hwm float64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.Lines(string(b)) {
		name, val, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/status %s: %w", pid, name, err)
		}
		if name == "VmRSS" {
			rss = kb / 1024
		} else {
			hwm = kb / 1024
		}
	}
	return rss, hwm, nil
}

// resetPeak sets pid's VmHWM back to its current RSS (proc(5),
// clear_refs), so that each run reports its own peak rather than the
// highest since the process started. It needs to own the process.
func resetPeak(pid int) error {
	return os.WriteFile("/proc/"+strconv.Itoa(pid)+"/clear_refs", []byte("5"), 0)
}

// userHZ is the unit of the CPU times in /proc: USER_HZ, 100 on every
// Linux architecture Go supports (the kernel keeps it fixed for user
// space whatever its internal tick).
const userHZ = 100

// procCPU returns the user+system CPU seconds pid has used, all threads.
func procCPU(pid int) (float64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces and parentheses: fields start
	// after the last ')'. utime and stime are fields 14 and 15 of
	// proc(5), so 12 and 13 counting from the state after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return (ut + st) / userHZ, nil
}

// machineCPU returns the busy and stolen CPU seconds of the whole machine
// since boot, from /proc/stat.
func machineCPU() (busy, steal float64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, errors.New("/proc/stat: unexpected format")
	}
	var v [8]float64
	for i := range v {
		if v[i], err = strconv.ParseFloat(f[i+1], 64); err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %w", err)
		}
	}
	// user nice system idle iowait irq softirq steal; guest time is
	// already inside user.
	busy = v[0] + v[1] + v[2] + v[5] + v[6]
	return busy / userHZ, v[7] / userHZ, nil
}

// selfCPU returns this process's user+system CPU seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// postgresCPU returns the CPU seconds of every process named postgres
// on this machine, by pid: the server's backends do a PostgreSQL-backed
// latch's database work, which would otherwise hide among "other
// processes". It cannot tell latch's backends from anyone else's.
func postgresCPU() map[int]float64 {
	m := map[int]float64{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return m
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if b, err := os.ReadFile("/proc/" + e.Name() + "/comm"); err != nil || strings.TrimSpace(string(b)) != "postgres" {
			continue
		}
		if cpu, err := procCPU(pid); err == nil {
			m[pid] = cpu
		}
	}
	return m
}

// cpuSince sums what the processes in now used since before; a process
// that started in between counts whole.
func cpuSince(before, now map[int]float64) float64 {
	var sum float64
	for pid, cpu := range now {
		sum += cpu - before[pid]
	}
	return max(sum, 0)
}
