package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/latchauth/latch/internal/clocktest"
)

// browser is a person's browser: it keeps cookies and follows redirects.
type browser struct {
	t    *testing.T
	c    *http.Client
	base string // the app's URL
}

// startApp runs the app on loopback against f, as run would, and
// returns a fresh browser pointed at it.
func startApp(t *testing.T, f *fakeLatch, clk *clocktest.Clock) *browser {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil) // its listener exists already
	base := "http://" + srv.Listener.Addr().String()
	srv.Config.Handler = newApp(config{latchURL: f.srv.URL, redirectURI: base + "/callback", now: clk.Now}).Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	return newBrowser(t, base)
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, c: &http.Client{Jar: jar}, base: base}
}

// open GETs path (or an absolute URL) and returns the final status and page.
func (b *browser) open(path string) (int, string) {
	b.t.Helper()
	if strings.HasPrefix(path, "/") {
		path = b.base + path
	}
	resp, err := b.c.Get(path)
	if err != nil {
		b.t.Fatalf("GET %s: %v", path, err)
	}
	return readPage(b.t, resp)
}

// press submits the button's form at action, as the home page draws it
// (with the page's CSRF token), and returns where the redirects ended.
func (b *browser) press(action string, extra url.Values) (int, string) {
	b.t.Helper()
	_, page := b.open("/")
	form := url.Values{"csrf": {csrfOf(b.t, page)}}
	for k, v := range extra {
		form[k] = v
	}
	resp, err := b.c.PostForm(b.base+action, form)
	if err != nil {
		b.t.Fatalf("POST %s: %v", action, err)
	}
	return readPage(b.t, resp)
}

// cookies returns the values of the cookies the browser holds for the app.
func (b *browser) cookies() []string {
	u, _ := url.Parse(b.base)
	var v []string
	for _, c := range b.c.Jar.Cookies(u) {
		v = append(v, c.Value)
	}
	return v
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the page:\n%s", page)
	}
	return m[1]
}

func readPage(t *testing.T, resp *http.Response) (int, string) {
	t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// wantPage fails unless the page has the status and every snippet.
func wantPage(t *testing.T, status int, page string, wantStatus int, snippets ...string) {
	t.Helper()
	if status != wantStatus {
		t.Errorf("status %d, want %d; page:\n%s", status, wantStatus, page)
	}
	for _, s := range snippets {
		if !strings.Contains(page, s) {
			t.Errorf("page lacks %q:\n%s", s, page)
		}
	}
}
