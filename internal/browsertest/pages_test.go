package browsertest

import (
	"net/http"
	"strings"
)

// One helper per page: what a person does there.

// signIn fills in the sign-in page that the tab shows and presses the
// button; it returns the status of the page that follows.
func (p *person) signIn(email, password string) int64 {
	p.t.Helper()
	if got := p.text("h1"); got != "Sign in" {
		p.fatalf("expected the sign-in page, got %q", got)
	}
	if v := eval[string](p, `document.querySelector("#email").value`); v == "" {
		p.typeInto("#email", email)
	}
	p.typeInto("#password", password)
	return p.press(`form[action="/login"] button.btn-primary`)
}

// openSignIn opens latch's sign-in page and signs in; the person should
// land on the account page.
func (p *person) openSignIn(l *latch, email, password string) {
	p.t.Helper()
	p.open(l.URL + "/login")
	if st := p.signIn(email, password); st != http.StatusOK || p.at().Path != "/account" {
		p.fatalf("sign in: got %d at %s, want 200 at /account", st, p.at())
	}
}

// signUp fills in the sign-up page.
func (p *person) signUp(email, password string) int64 {
	p.t.Helper()
	p.typeInto("#email", email)
	p.typeInto("#password", password)
	return p.press(`form[action="/signup"] button.btn-primary`)
}

// sessions are the rows of the account page's session list.
func (p *person) sessions() []string {
	p.t.Helper()
	return eval[[]string](p, `Array.from(document.querySelectorAll("ul.sessions > li"), li => li.innerText)`)
}

// alert is the text of the page's notice, "" for none.
func (p *person) alert() string {
	p.t.Helper()
	return strings.TrimSpace(eval[string](p, `(document.querySelector(".alert") || {innerText: ""}).innerText`))
}
