package browsertest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestPagesAreClean walks every page and state of the tour and checks
// that none writes an error or warning to the console (a CSP violation
// is one), throws, or makes a request to any host but latch's.
//
// A page answered with an error status on purpose (a wrong password:
// 400) makes Chromium log "Failed to load resource" for the document
// itself; that is the status doing its job, not a defect, and is left
// out. Anything else counts.
//
// Checks: ASVS 5.0 V3.4.3 (a CSP that the pages themselves keep: no
// inline script or style to be blocked), and that the pages pull nothing
// from third parties (no fonts, scripts or trackers elsewhere).
func TestPagesAreClean(t *testing.T) {
	t.Parallel()
	l := startTourLatch(t)
	p := newPerson(t, "hygiene", time.Minute)

	// The listener must see a CSP violation when there is one: a page
	// elsewhere with an inline script that its CSP forbids.
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>x</title><script>document.title = "ran"</script>`)
	}))
	t.Cleanup(bad.Close)
	p.open(bad.URL)
	if !seen(p.problems(), "Content Security Policy") {
		t.Fatalf("the console listener saw no CSP violation on a page that has one, so it cannot vouch for latch's pages; it saw %v", p.problems())
	}
	p.forget()

	start := len(p.requested())
	favicon := 0
	for _, s := range tour {
		before := len(p.documents())
		s.visit(p, l)
		docs := map[string]bool{}
		for _, d := range p.documents()[before:] {
			docs[d.url] = true
		}
		var bad []string
		for _, e := range p.problems() {
			switch {
			case strings.HasPrefix(e.source, "network") && docs[e.url] && strings.Contains(e.text, "the server responded with a status of"):
			case strings.HasSuffix(e.url, "/favicon.ico"):
				favicon++
			default:
				bad = append(bad, e.String())
			}
		}
		if len(bad) > 0 {
			t.Errorf("%s: the console shows:\n\t%s", s.name, strings.Join(bad, "\n\t"))
		}
		p.forget()
	}
	if favicon > 0 {
		t.Errorf("the browser asked for /favicon.ico and latch answered 404, a console error (%d time(s) on the tour; the browser then remembers): the pages name no icon and latch serves none", favicon)
	}
	host := strings.TrimPrefix(l.URL, "http://")
	for _, u := range p.requested()[start:] {
		if u.Host != host {
			t.Errorf("a page asked another host for %s", u)
		}
	}
}

// seen reports whether an entry's text contains s.
func seen(entries []consoleEntry, s string) bool {
	for _, e := range entries {
		if strings.Contains(e.text, s) {
			return true
		}
	}
	return false
}
