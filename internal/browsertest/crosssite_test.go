package browsertest

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestCrossSiteFormRefused: a page on another site (localhost, which is
// not the same site as 127.0.0.1) posts a sign-in form to latch with the
// right password. latch answers 403 with its error page, and the browser
// gets no session: no login CSRF.
//
// Checks: ASVS 5.0 V3.5.1 (state-changing requests from another origin
// refused: anti-forgery token, Sec-Fetch-Site/Origin), V3.5.3 (no
// state-changing GETs needed here: the form is a POST); the DESIGN's
// "login forms are protected as well (login CSRF)".
func TestCrossSiteFormRefused(t *testing.T) {
	t.Parallel()
	l := startLatch(t, sqlite, "LATCH_SIGNUP_REQUIRE_VERIFICATION=off")
	const email = "mallory-target@example.com"
	l.createUser(t, email, password1)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="en"><title>Win a prize</title>
<form id="f" method="post" action="%s/login">
<input name="email" value="%s"><input name="password" value="%s"><input name="csrf" value="guessed">
</form><script src="/submit.js"></script>`, html.EscapeString(l.URL), email, password1)
	})
	mux.HandleFunc("GET /submit.js", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprint(w, `document.getElementById("f").submit();`)
	})
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	evil := httptest.NewServer(mux)
	t.Cleanup(evil.Close)
	evilURL := strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)

	victim := newPerson(t, "victim", time.Minute)
	// The victim has been to latch before: the browser holds a CSRF cookie.
	victim.open(l.URL + "/login")
	victim.open(evilURL)
	// The script submits the form: wait until latch's answer is shown.
	victim.do("wait for latch's answer", waitPath(l.URL+"/login"))
	if got := victim.text("h1"); got != "Request refused" {
		victim.fatalf("the cross-site form got the page %q, want latch's 403 page", got)
	}
	var status int64
	for _, d := range victim.documents() {
		if d.url == l.URL+"/login" {
			status = d.status
		}
	}
	if status != http.StatusForbidden {
		victim.fatalf("latch answered the cross-site form with %d, want 403", status)
	}
	victim.step("refused")
	if c := cookieNamed(victim.cookies(l.URL), "latch_session"); c != nil {
		victim.fatalf("a cross-site form started a session: %+v", c)
	}
}
