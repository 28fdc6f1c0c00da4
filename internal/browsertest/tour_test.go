package browsertest

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// The tour: every page and state a person can meet on latch, each as a
// stop that leaves the tab on that page. The screenshot and hygiene
// tests walk it.

// tourUser is the account the tour signs in with.
const tourUser = "tour@example.com"

// startTourLatch starts a latch that shows every page: on localhost (so
// passkeys are on), with passwordless codes (so the code page exists),
// mail, and an application's redirect URI; with an account for
// tourUser.
func startTourLatch(t *testing.T) *latch {
	t.Helper()
	l := startLatchAt(t, sqlite, localhostURL(t), withMail, "LATCH_PASSWORDLESS=on", "LATCH_SIGNUP_REQUIRE_VERIFICATION=off",
		"LATCH_REDIRECT_URLS=http://127.0.0.1/cb")
	l.createUser(t, tourUser, password1)
	return l
}

type stop struct {
	name  string
	visit func(p *person, l *latch)
}

// tour lists the stops in an order one person can walk them: signed out
// first, then signed in.
var tour = []stop{
	{"login", func(p *person, l *latch) { p.open(l.URL + "/login") }},
	{"login-error", func(p *person, l *latch) {
		p.open(l.URL + "/login")
		if st := p.signIn(tourUser, "not the password at all"); st < 400 {
			p.fatalf("a wrong password got %d", st)
		}
	}},
	{"signup", func(p *person, l *latch) { p.open(l.URL + "/signup") }},
	{"recover", func(p *person, l *latch) { p.open(l.URL + "/recover") }},
	{"recover-sent", func(p *person, l *latch) {
		p.open(l.URL + "/recover")
		p.typeInto("#email", tourUser)
		if st := p.press(`form[action="/recover"] button[type=submit]`); st != http.StatusAccepted {
			p.fatalf("recover: got %d, want 202", st)
		}
	}},
	{"verify", func(p *person, l *latch) {
		// A link's page shows its form before spending anything, so any
		// token draws it.
		p.open(l.URL + "/verify?token=" + random())
	}},
	{"code", func(p *person, l *latch) {
		p.open(l.URL + "/login")
		p.typeInto("#email", tourUser)
		if st := p.press(`button[formaction="/login/code"]`); st != http.StatusOK {
			p.fatalf("ask for a code: got %d, want 200", st)
		}
	}},
	{"authorize-error", func(p *person, l *latch) {
		q := url.Values{"redirect_uri": {"https://elsewhere.example/cb"}, "response_type": {"code"}, "state": {"s"},
			"code_challenge": {random()}, "code_challenge_method": {"S256"}}
		if st := p.open(l.URL + "/v1/authorize?" + q.Encode()); st != http.StatusBadRequest {
			p.fatalf("a foreign redirect URI: got %d, want 400", st)
		}
	}},
	{"account", func(p *person, l *latch) { p.openSignIn(l, tourUser, password1) }},
	// Two-step verification: adding an authenticator app (with the key
	// shown for who cannot scan), the recovery codes, the account page
	// with a factor.
	{"factor-totp", func(p *person, l *latch) {
		p.open(l.URL + "/account")
		if st := p.press(`button[name=type][value=totp]`); st != http.StatusOK {
			p.fatalf("add an authenticator app: got %d, want 200", st)
		}
		p.click(`.steps details summary`)
	}},
	{"recovery-codes", func(p *person, l *latch) {
		p.typeInto("#code", code(p.t, p.text("#totp-key"), time.Now()))
		if st := p.press(`form[action="/account/factors/verify"] button.btn-primary`); st != http.StatusOK {
			p.fatalf("turn the app on: got %d, want 200", st)
		}
	}},
	{"account-mfa", func(p *person, l *latch) { p.press(`a.btn-primary[href^="/account"]`) }},
	{"recovery-new", func(p *person, l *latch) { p.press(`form[action="/account/factors/recovery"] button`) }},
	{"logout", func(p *person, l *latch) { p.open(l.URL + "/logout") }},
	{"logout-done", func(p *person, l *latch) {
		if st := p.press(`form[action="/logout"] button.btn-primary`); st != http.StatusOK {
			p.fatalf("sign out: got %d, want 200", st)
		}
	}},
	// The second step of the next sign-in: its page, a wrong code, the
	// recovery code instead.
	{"mfa", func(p *person, l *latch) {
		p.open(l.URL + "/login")
		p.signIn(tourUser, password1)
	}},
	{"mfa-error", func(p *person, l *latch) {
		if st := p.answer("code", "000000"); st != http.StatusBadRequest {
			p.fatalf("a wrong code: got %d, want 400", st)
		}
	}},
	{"mfa-recovery", func(p *person, l *latch) { p.press(`a[href*="use=recovery"]`) }},
}
