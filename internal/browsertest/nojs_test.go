package browsertest

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestPagesWithoutJavaScript: with scripts off, a person signs in, reaches
// the account page, changes the password and signs out; the show/hide
// buttons, which need the script, stay hidden.
//
// Checks: DESIGN "Hosted pages … usable with JavaScript off", STYLE 20
// (forms that work without JavaScript); ASVS 5.0 V6.2.3 through the plain
// form.
func TestPagesWithoutJavaScript(t *testing.T) {
	t.Parallel()
	l := startLatch(t, sqlite, "LATCH_SIGNUP_REQUIRE_VERIFICATION=off")
	const email = "plain@example.com"
	l.createUser(t, email, password1)

	p := newPerson(t, "noscript", time.Minute)
	p.noScript()
	p.open(l.URL + "/login")
	if p.visible(".toggle") {
		p.fatalf("a show/hide button is visible without JavaScript, where it cannot work")
	}
	p.step("login")
	if st := p.signIn(email, password1); st != http.StatusOK || p.at().Path != "/account" {
		p.fatalf("sign in without JavaScript: got %d at %s, want 200 at /account", st, p.at())
	}
	p.see(email)
	p.typeInto("#current_password", password1)
	p.typeInto("#new_password", password2)
	if st := p.press(`form[action="/account/password"] button[type=submit]`); st != http.StatusOK {
		p.fatalf("change password without JavaScript: got %d", st)
	}
	if got := p.text(".alert"); !strings.Contains(got, "password is changed") {
		p.fatalf("after changing the password the notice says %q", got)
	}
	p.step("account")
	if st := p.press(`form[action="/logout"] button[type=submit]`); st != http.StatusOK {
		p.fatalf("sign out without JavaScript: got %d", st)
	}
	p.see("You are signed out")
	// The script really was off: it would have unhidden the buttons.
	p.open(l.URL + "/login")
	if p.visible(".toggle") {
		p.fatalf("the show/hide button was shown: scripts ran")
	}
}

// visible reports whether the first element that matches is shown, read
// through the DOM (no page script needed).
func (p *person) visible(selector string) bool {
	p.t.Helper()
	attrs := run(p, "read "+selector, chromedp.Attributes(chromedp.CSS(selector)))
	_, hidden := attrs["hidden"]
	return !hidden
}
