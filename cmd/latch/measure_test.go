//go:build measure

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/e2e"
)

// These are measurements, not unit tests: they take a minute and depend
// on the machine, so they are built only when asked for:
//
//	go test -tags measure -run Measure -v ./cmd/latch/

// peakRSS reads the peak resident set size of a process (VmHWM) in MiB.
func peakRSS(t *testing.T, pid int) float64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb / 1024
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// timedPost posts v as JSON to url and returns the status and how long
// the answer took.
func timedPost(client *http.Client, url string, v any) (int, time.Duration, error) {
	body, _ := json.Marshal(v)
	start := time.Now()
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, time.Since(start), nil
}

func postLogin(client *http.Client, url, email, pw string) (int, time.Duration, error) {
	return timedPost(client, url+"/v1/token", map[string]string{"grant_type": "password", "email": email, "password": pw})
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// interleave posts with the address known and with an address of no
// account, in alternation, tries times each, fails unless every answer
// is want, and returns the two sets of times.
func interleave(t *testing.T, tries int, known string, want int, post func(email string) (int, time.Duration, error)) (withKnown, withUnknown []time.Duration) {
	t.Helper()
	for i := range 2 * tries {
		email := known
		if i%2 == 1 {
			email = fmt.Sprintf("nobody%d@example.com", i)
		}
		status, d, err := post(email)
		if err != nil || status != want {
			t.Fatalf("try %d: got %d %v, want %d", i, status, err, want)
		}
		if i%2 == 0 {
			withKnown = append(withKnown, d)
		} else {
			withUnknown = append(withUnknown, d)
		}
	}
	return withKnown, withUnknown
}

// startWithAccount starts latch with env (rate limiting off, so that
// the tries are not slowed) and signs email up.
func startWithAccount(t *testing.T, email string, env ...string) *e2e.Proc {
	t.Helper()
	p := e2e.Start(t, t.TempDir(), append([]string{"LATCH_RATE_LIMIT=off"}, env...)...)
	e2e.Expect(t, "signup", e2e.Do(t, "POST", p.URL+"/v1/signup", "", map[string]any{"email": email, "password": "a long and lovely passphrase"}), 201)
	return p
}

// wantSameMedian logs the median times of base and other, measured
// interleaved (over says how many), and fails unless other's is within 10%
// of base's. The names label them in the log; ratio labels their ratio.
func wantSameMedian(t *testing.T, over, baseName string, base []time.Duration, otherName string, other []time.Duration, ratio string) {
	t.Helper()
	mb, mo := median(base), median(other)
	r := float64(mo) / float64(mb)
	t.Logf("median over %s: %s %v, %s %v, ratio %.3f", over, baseName, mb, otherName, mo, r)
	if r < 0.9 || r > 1.1 {
		t.Errorf("%s median ratio %.3f outside [0.9, 1.1]", ratio, r)
	}
}

// An unknown email and a wrong password cost the same (ASVS 5.0 V6.3.8):
// their median times must be within 10% over interleaved tries.
func TestMeasureLoginTiming(t *testing.T) {
	p := startWithAccount(t, "timing@example.com")
	client := &http.Client{Timeout: 30 * time.Second}
	const tries = 300
	wrong, unknown := interleave(t, tries, "timing@example.com", 400, func(email string) (int, time.Duration, error) {
		return postLogin(client, p.URL, email, "not the password at all")
	})
	wantSameMedian(t, fmt.Sprintf("%d interleaved tries each", tries), "wrong password", wrong, "unknown email", unknown, "unknown/wrong")
}

// 400 concurrent logins: hashing is admission-controlled, so memory stays
// bounded and the excess gets 503 + Retry-After instead of a queue that
// grows without bound.
func TestMeasureLoginFlood(t *testing.T) {
	p := startWithAccount(t, "flood@example.com")
	idle := peakRSS(t, p.Pid())
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 400}}
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	start := time.Now()
	for i := range 400 {
		wg.Go(func() {
			pw := "a long and lovely passphrase"
			if i%2 == 1 {
				pw = "wrong password number " + strconv.Itoa(i)
			}
			status, _, err := postLogin(client, p.URL, "flood@example.com", pw)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				statuses[-1]++
				return
			}
			statuses[status]++
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	peak := peakRSS(t, p.Pid())
	t.Logf("400 concurrent logins in %v: statuses %v; peak RSS %.1f MiB (%.1f MiB before the flood)", elapsed.Round(time.Millisecond), statuses, peak, idle)
	if statuses[-1] > 0 || statuses[500] > 0 {
		t.Errorf("transport errors or 500s: %v", statuses)
	}
	if peak > 300 {
		t.Errorf("peak RSS %.1f MiB, want at most 300", peak)
	}
}

// Asking for a reset link costs the same whether or not the address has
// an account (OWASP Forgot Password cheat sheet: "consistent response
// times"): median times within 10% over interleaved requests. Delivery is
// asynchronous, so the mail server's speed plays no part.
func TestMeasureRecoverTiming(t *testing.T) {
	// Rate limiting off lifts the per-address message limit too, so one
	// account can be asked for many times; mail goes to the log.
	p := startWithAccount(t, "known@example.com")
	client := &http.Client{Timeout: 30 * time.Second}
	const tries = 300
	known, unknown := interleave(t, tries, "known@example.com", 202, func(email string) (int, time.Duration, error) {
		return timedPost(client, p.URL+"/v1/recover", map[string]string{"email": email})
	})
	wantSameMedian(t, fmt.Sprintf("%d interleaved requests each", tries), "known address", known, "unknown address", unknown, "unknown/known")
}

// A wrong sign-in code costs the same whether the address has an
// account with a live code or no account at all (security review, low
// item 6): every wrong guess makes one read and one write transaction.
// Median times over interleaved requests, within 10%.
func TestMeasureOTPTiming(t *testing.T) {
	const addr = "coded@example.com"
	p := startWithAccount(t, addr, "LATCH_PASSWORDLESS=on")
	client := &http.Client{Timeout: 30 * time.Second}
	guess := func(email string) time.Duration {
		status, d, err := timedPost(client, p.URL+"/v1/token", map[string]string{"grant_type": "otp", "email": email, "code": "000000"})
		if err != nil {
			t.Fatal(err)
		}
		if status != 400 {
			t.Fatalf("wrong code for %s: %d", email, status)
		}
		return d
	}
	const rounds, perRound = 75, 4 // a code dies after 5 wrong guesses
	codeRE := regexp.MustCompile(`is:\\n\\n {4}(\d{6})`)
	var live, unknown []time.Duration
	for r := range rounds {
		seen := len(p.Logs())
		e2e.Expect(t, "otp", e2e.Do(t, "POST", p.URL+"/v1/otp", "", map[string]any{"email": addr}), 202)
		// The code exists once the sender has minted it, at delivery.
		var code string
		for deadline := time.Now().Add(5 * time.Second); code == ""; {
			if m := codeRE.FindStringSubmatch(p.Logs()[seen:]); m != nil {
				code = m[1]
			} else if time.Now().After(deadline) {
				t.Fatalf("round %d: no code was sent", r)
			}
			time.Sleep(2 * time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond) // the sender settles the message after logging it
		for i := range perRound {
			live = append(live, guess(addr))
			unknown = append(unknown, guess(fmt.Sprintf("nobody%d-%d@example.com", r, i)))
		}
		// Spent, as a person would: an account holds a handful of codes
		// at most (5 an hour per address), not one per round.
		e2e.Expect(t, "right code", e2e.Do(t, "POST", p.URL+"/v1/token", "", map[string]any{"grant_type": "otp", "email": addr, "code": code}), 200)
	}
	wantSameMedian(t, fmt.Sprintf("%d interleaved wrong codes each", len(live)), "address with a live code", live, "unknown address", unknown, "unknown/live")
}
