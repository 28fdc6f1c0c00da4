package browsertest

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startWebApp builds and runs the example application of
// examples/webapp (a package main, so it runs as a process) next to a
// latch whose URL is latchURL; it returns the app's URL.
func startWebApp(t *testing.T, latchURL, addr string) string {
	t.Helper()
	root := repoRoot(t)
	if _, err := os.Stat(filepath.Join(root, "examples", "webapp", "main.go")); err != nil {
		t.Skip("no examples/webapp in this tree")
	}
	bin := filepath.Join(t.TempDir(), "webapp")
	build := exec.Command("go", "build", "-o", bin, "./examples/webapp")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build examples/webapp: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LATCH_URL=" + latchURL, "WEBAPP_ADDR=" + addr}
	var logs strings.Builder
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("webapp's log:\n%s", logs.String())
		}
	})
	u := "http://" + addr
	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(20 * time.Second); ; {
		if resp, err := client.Get(u + "/"); err == nil {
			resp.Body.Close()
			return u
		}
		if time.Now().After(deadline) {
			t.Fatalf("examples/webapp did not answer at %s", u)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestExampleWebApp signs a person into the example application of
// examples/webapp through latch's sign-in page, and out again.
//
// Checks: the same flow as TestAuthorizationCodeIntoApps (RFC 6749 §4.1,
// RFC 7636, RFC 9207) with the client people will copy.
func TestExampleWebApp(t *testing.T) {
	t.Parallel()
	latchURL := "http://" + freeAddr(t)
	appAddr := freeAddr(t)
	app := startWebApp(t, latchURL, appAddr)
	l := startLatchAt(t, sqlite, latchURL, "LATCH_SIGNUP_REQUIRE_VERIFICATION=off", "LATCH_REDIRECT_URLS="+app+"/callback")
	const email = "webapp@example.com"
	l.createUser(t, email, password1)

	p := newPerson(t, "webapp", time.Minute)
	p.open(app + "/")
	p.see("Signed out")
	p.press(`form[action="/login"]:not(:has(input[name=screen])) button[type=submit]`)
	if at := p.at(); "http://"+at.Host != l.URL || at.Path != "/login" {
		p.fatalf("the example app sent the browser to %s, want latch's /login", at)
	}
	if st := p.signIn(email, password1); st != http.StatusOK {
		p.fatalf("sign in: got %d", st)
	}
	if at := p.at(); "http://"+at.Host != app {
		p.fatalf("after signing in the browser is at %s, want the example app", at)
	}
	p.see("Signed in")
	p.see(email)
	p.step("signed-in")
	if st := p.press(`form[action="/logout"] button[type=submit]`); st != http.StatusOK {
		p.fatalf("sign out of the example app: got %d", st)
	}
	p.see("Signed out")
}
