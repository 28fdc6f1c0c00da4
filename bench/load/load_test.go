package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParsePlan(t *testing.T) {
	cfg, err := parseFlags([]string{"-start", "-scenario", "refresh,verify@4,login@400", "-c", "8,64", "-verify-mode", "http,direct"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := []step{{"refresh", 8, ""}, {"refresh", 64, ""}, {"verify", 4, "http"}, {"verify", 4, "direct"}, {"login", 400, ""}}
	if diff := cmp.Diff(want, cfg.plan, cmp.AllowUnexported(step{})); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
}

func TestParseFlagsRefuses(t *testing.T) {
	for _, args := range [][]string{
		{},                                    // neither -url nor -start
		{"-start", "-url", "http://x"},        // both
		{"-start", "-scenario", "nope"},       // unknown scenario
		{"-start", "-c", "0"},                 // no virtual user
		{"-start", "-rate", "-5"},             // a negative offered rate
		{"-start", "-scenario", "user@x"},     // bad concurrency
		{"-start", "-d", "0"},                 // unbounded
		{"-start", "-mix", "user=1,verify=1"}, // verify is not part of a blend
		{"-start", "-verify-mode", "grpc"},
		{"-start", "-pid", "1"},
	} {
		if _, err := parseFlags(args, io.Discard); err != errUsage {
			t.Errorf("parseFlags(%q): got %v, want errUsage", args, err)
		}
	}
}

func TestParseMix(t *testing.T) {
	mix, err := parseMix("user=70,refresh=20,login=8,signup=2")
	if err != nil {
		t.Fatal(err)
	}
	want := []weight{{kUser, 70}, {kRefresh, 20}, {kLogin, 8}, {kSignup, 2}}
	if diff := cmp.Diff(want, mix, cmp.AllowUnexported(weight{})); diff != "" {
		t.Errorf("mix (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"", "user", "user=0", "user=-1", "bogus=3"} {
		if _, err := parseMix(bad); err == nil {
			t.Errorf("parseMix(%q): got nil error", bad)
		}
	}
}

func TestTokenInfo(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	for _, tc := range []struct {
		aud  string
		want []string
	}{
		{`"https://api"`, []string{"https://api"}},
		{`["a","b"]`, []string{"a", "b"}},
	} {
		raw := enc([]byte(`{"alg":"ES256","typ":"at+jwt"}`)) + "." + enc([]byte(`{"aud":`+tc.aud+`}`)) + ".sig"
		alg, aud, err := tokenInfo(raw)
		if err != nil || alg != "ES256" || !cmp.Equal(aud, tc.want) {
			t.Errorf("tokenInfo(aud %s): got %q %q %v, want ES256 %q", tc.aud, alg, aud, err, tc.want)
		}
	}
	if _, _, err := tokenInfo("not.a"); err == nil {
		t.Error("tokenInfo of a two-part string: got nil error")
	}
}

// fakeLatch answers signup, both grants and GET /v1/user like latch, and
// refuses a refresh token that is not its session's latest: a virtual
// user that refreshed with anything but its own latest token would show
// up as a 400.
type fakeLatch struct {
	mu       sync.Mutex
	latest   map[string]string // session → its live refresh token
	sessions map[string]string // refresh or access token → session
	seq      int
}

func (f *fakeLatch) issue(w http.ResponseWriter, status int, session string) {
	f.seq++
	rt, at := fmt.Sprintf("lrt_%d", f.seq), fmt.Sprintf("at_%d", f.seq)
	f.latest[session] = rt
	f.sessions[rt], f.sessions[at] = session, session
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"access_token": at, "refresh_token": rt})
}

func (f *fakeLatch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == "POST" && r.URL.Path == "/v1/signup":
		f.issue(w, http.StatusCreated, fmt.Sprintf("s%d", f.seq))
	case r.Method == "POST" && r.URL.Path == "/v1/token" && strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"):
		f.issue(w, http.StatusOK, fmt.Sprintf("s%d", f.seq))
	case r.Method == "POST" && r.URL.Path == "/v1/token":
		rt := r.PostFormValue("refresh_token")
		s, ok := f.sessions[rt]
		if !ok || f.latest[s] != rt || r.PostFormValue("grant_type") != "refresh_token" {
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
			return
		}
		f.issue(w, http.StatusOK, s)
	case r.Method == "GET" && r.URL.Path == "/v1/user":
		if _, ok := f.sessions[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]; !ok {
			http.Error(w, `{"error":"invalid_token"}`, http.StatusUnauthorized)
			return
		}
		io.WriteString(w, `{"id":"x"}`)
	default:
		http.NotFound(w, r)
	}
}

func TestRunnerAgainstFake(t *testing.T) {
	srv := httptest.NewServer(&fakeLatch{latest: map[string]string{}, sessions: map[string]string{}})
	defer srv.Close()
	a := &api{base: srv.URL, hc: newHTTPClient(4, 5*time.Second)}
	pool := []account{{"a@example.com", "pw pw pw pw"}, {"b@example.com", "pw pw pw pw"}}
	mix, _ := parseMix("user=50,refresh=40,login=5,signup=5")
	for _, sc := range []scenario{
		{name: "refresh", kinds: []weight{{kRefresh, 1}}, needTok: true},
		{name: "mixed", kinds: mix, needTok: true},
	} {
		t.Run(sc.name, func(t *testing.T) {
			r := &runner{api: a, sc: sc, pool: pool, runID: "t", password: "pw pw pw pw"}
			loaded := false
			window, err := r.runOnce(context.Background(), 4, 20*time.Millisecond, 0, 300, func(string) {}, func() { loaded = true })
			if err != nil {
				t.Fatal(err)
			}
			var total, ok int64
			for k := range numKinds {
				for status := range r.stats[k].status {
					total += r.stats[k].status[status].Load()
				}
				ok += int64(r.stats[k].lat.Count())
			}
			if total != 300 || ok != 300 || r.relogins.Load() != 0 || !loaded || window <= 0 {
				t.Errorf("got %d measured, %d ok, %d re-logins, loaded %v, window %v; want 300, 300, 0, true, > 0",
					total, ok, r.relogins.Load(), loaded, window)
			}
		})
	}
}

// TestOpenLoop: with -rate the users send on a fixed schedule whatever the
// answers' speed: over a window the count follows the offered rate, not
// the server's speed (the fake answers in microseconds, so a closed loop
// would send hundreds of times more).
func TestOpenLoop(t *testing.T) {
	srv := httptest.NewServer(&fakeLatch{latest: map[string]string{}, sessions: map[string]string{}})
	defer srv.Close()
	a := &api{base: srv.URL, hc: newHTTPClient(4, 5*time.Second)}
	pool := []account{{"a@example.com", "pw pw pw pw"}}
	r := &runner{api: a, sc: scenario{name: "user", kinds: []weight{{kUser, 1}}, needTok: true}, pool: pool, runID: "t", password: "pw pw pw pw", rate: 400}
	window, err := r.runOnce(context.Background(), 4, 50*time.Millisecond, 500*time.Millisecond, 0, func(string) {}, func() {})
	if err != nil {
		t.Fatal(err)
	}
	got := r.stats[kUser].lat.Count()
	want := 400 * window.Seconds()
	if float64(got) < 0.6*want || float64(got) > 1.2*want {
		t.Errorf("open loop at 400/s over %v: %d answers, want about %.0f", window, got, want)
	}
}

func TestHashSizingFromLog(t *testing.T) {
	for _, tc := range []struct {
		log      string
		slots    int
		limitMiB float64
	}{
		{`{"level":"WARN","msg":"no SMTP server configured","event":"mail.log"}` + "\n" +
			"gc 1 @0.029s 1%: not JSON\n" +
			`{"level":"INFO","msg":"password hashing sized","event":"hash.sizing","slots":2,"cpus":2,"memory_limit":"57MiB"}` + "\n", 2, 57},
		{`{"event":"hash.sizing","slots":4,"memory_limit":"none"}` + "\n", 4, 0},
		{`{"event":"server.start"}` + "\n", 0, 0}, // an older build
	} {
		path := filepath.Join(t.TempDir(), "latch.log")
		if err := os.WriteFile(path, []byte(tc.log), 0o600); err != nil {
			t.Fatal(err)
		}
		slots, limit := hashSizing(path)
		if slots != tc.slots || limit != tc.limitMiB {
			t.Errorf("hashSizing of %q = %d, %v; want %d, %v", tc.log, slots, limit, tc.slots, tc.limitMiB)
		}
	}
}
