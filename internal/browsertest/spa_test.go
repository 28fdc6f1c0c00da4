package browsertest

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
)

// spaScript is the single-page app's script, served as a file: it signs
// in with the refresh token delivered as a cookie, refreshes with that
// cookie alone, and writes each outcome into the page.
const spaScript = `"use strict";
(async function () {
  var root = document.documentElement.dataset;
  var out = document.getElementById("out");
  function show(id, value) {
    var li = document.createElement("li");
    li.id = id;
    li.textContent = String(value);
    out.appendChild(li);
  }
  try {
    var login = await fetch(root.latch + "/v1/token", {
      method: "POST", credentials: "include",
      body: new URLSearchParams({grant_type: "password", email: root.email, password: root.password, token_delivery: "cookie"})
    });
    var first = await login.json();
    show("login-status", login.status);
    show("login-access", typeof first.access_token === "string" && first.access_token !== "");
    show("login-refresh-in-body", "refresh_token" in first);
    var refresh = await fetch(root.latch + "/v1/token", {
      method: "POST", credentials: "include",
      body: new URLSearchParams({grant_type: "refresh_token"})
    });
    var second = await refresh.json();
    show("refresh-status", refresh.status);
    show("refresh-access", typeof second.access_token === "string" && second.access_token !== "" && second.access_token !== first.access_token);
    show("refresh-refresh-in-body", "refresh_token" in second);
  } catch (e) {
    show("error", e);
  }
  show("cookies", document.cookie);
  show("done", true);
})();
`

// newSPA serves a single-page app: an HTML page whose data attributes
// tell the script where latch is and whom to sign in, and the script.
func newSPA(t *testing.T, latchURL, email, password string) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="en" data-latch="%s" data-email="%s" data-password="%s"><title>SPA</title><ul id="out"></ul><script src="/app.js"></script>`,
			html.EscapeString(latchURL), html.EscapeString(email), html.EscapeString(password))
	})
	mux.HandleFunc("GET /app.js", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		fmt.Fprint(w, spaScript)
	})
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestSPARefreshCookie: a single-page app on an origin that
// LATCH_CORS_ORIGINS lists — the same site as latch, another port — signs
// in with token_delivery=cookie and refreshes with the cookie alone; its
// script never sees the refresh token.
//
// Checks: RFC 9700 §4.14 (a browser app's refresh token out of
// JavaScript's reach), ASVS 5.0 V3.3.4 (HttpOnly for a cookie scripts need
// not read), V3.3.2 (SameSite=Strict), V3.4.2/V3.5 (CORS with credentials
// only for listed origins), NIST SP 800-63B §7.1.1 (session secrets in
// HttpOnly cookies).
func TestSPARefreshCookie(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, db database) {
		const email = "lin@example.com"
		latchURL := "http://" + freeAddr(t)
		spa := newSPA(t, latchURL, email, password1)
		l := startLatchAt(t, db, latchURL, "LATCH_SIGNUP_REQUIRE_VERIFICATION=off", "LATCH_CORS_ORIGINS="+spa.URL)
		l.createUser(t, email, password1)

		lin := newPerson(t, "lin", time.Minute)
		lin.open(spa.URL)
		lin.text("#done") // waits for the script to finish
		lin.step("spa")
		got := map[string]string{}
		for _, id := range []string{"error", "login-status", "login-access", "login-refresh-in-body", "refresh-status", "refresh-access", "refresh-refresh-in-body", "cookies"} {
			if lin.exists("#" + id) {
				got[id] = lin.text("#" + id)
			}
		}
		want := map[string]string{
			"login-status": "200", "login-access": "true", "login-refresh-in-body": "false",
			"refresh-status": "200", "refresh-access": "true", "refresh-refresh-in-body": "false",
		}
		for k, v := range want {
			if got[k] != v {
				lin.fatalf("%s: got %q, want %q (everything the app saw: %v)", k, got[k], v, got)
			}
		}
		if e, ok := got["error"]; ok {
			lin.fatalf("the app's script failed: %s", e)
		}
		// The script cannot read the cookie; the browser has it, locked down.
		if got["cookies"] != "" {
			lin.fatalf("document.cookie on the app shows %q, want nothing", got["cookies"])
		}
		c := cookieNamed(lin.cookies(l.URL+"/v1/token"), "latch_refresh")
		if c == nil || !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict || c.Path != "/v1/token" {
			lin.fatalf("refresh cookie: %+v, want HttpOnly, SameSite=Strict, Path=/v1/token", c)
		}
	})
}
