package server_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// browser is a cookie-keeping client of latch's pages for tests that
// need no JavaScript: it remembers the last page's CSRF token and sends
// it with the next form, as a browser submitting that page's form would.
// It does not follow redirects, so tests see each one.
type browser struct {
	t    testing.TB
	base string
	c    *http.Client
	csrf string
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (h *harness) browser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		h.t.Fatal(err)
	}
	c := *h.srv.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: h.t, base: h.srv.URL, c: &c}
}

func (b *browser) get(path string, header ...string) response {
	b.t.Helper()
	return b.send("GET", path, nil, header...)
}

// post submits a form with the CSRF token of the last page.
func (b *browser) post(path string, form url.Values, header ...string) response {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok && b.csrf != "" {
		form.Set("csrf", b.csrf)
	}
	return b.send("POST", path, form, header...)
}

func (b *browser) send(method, path string, form url.Values, header ...string) response {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	r := exchange(b.t, b.c, req, header...)
	if m := csrfField.FindSubmatch(r.body); m != nil {
		b.csrf = string(m[1])
	}
	return r
}

// cookie returns the value of the named cookie the browser holds for
// latch, "" if none.
func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.base)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}
