package web

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/latchauth/latch/internal/apperr"
	"github.com/latchauth/latch/internal/auth"
)

// The sign-in pages. Each one ends a successful sign-in the same way
// (startSession): the older browser session, if any, ends, the new one's
// cookie is set (a new secret at every sign-in, so a planted cookie
// cannot fixate a session), and the browser goes on to where it was
// going: an authorization request, or the account page.

// deviceMaxAge is how long the browser keeps its device token.
const deviceMaxAge = 180 * 24 * time.Hour

// startSession ends the browser's previous session and sets the cookies
// of the new one.
func (p *Pages) startSession(w http.ResponseWriter, r *http.Request, tr auth.TokenResponse) {
	if old := p.sessionCookie(r); old != "" {
		if err := p.d.Auth.EndBrowserSession(r.Context(), old); err != nil {
			p.d.Log.Warn("end previous browser session", "error", err)
		}
	}
	p.setCookie(w, p.cookies.session, tr.RefreshToken, tr.Session.ExpiresAt.Sub(tr.Session.CreatedAt))
	if tr.DeviceToken != "" {
		p.setCookie(w, p.cookies.device, tr.DeviceToken, deviceMaxAge)
	}
}

// next is where a sign-in continues: the checked continuation, else the
// account page.
func next(r *http.Request) string {
	if c := checkContinue(r.FormValue("continue")); c != "" {
		return c
	}
	return "/account"
}

// checkContinue accepts only a continuation that stays on latch and goes
// to a page a sign-in can lead to: an authorization request or the
// account page. Anything else is dropped, so the parameter can never
// become an open redirect.
func checkContinue(s string) string {
	if s == "" || len(s) > 4096 || !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.ContainsAny(s, "\\\r\n") {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Fragment != "" {
		return ""
	}
	switch u.Path {
	case "/v1/authorize", "/account":
		return u.RequestURI()
	}
	return ""
}

// signInData is the Data of the sign-in and sign-up pages.
type signInData struct {
	Passwordless, Signup bool
	Providers            []providerButton
	// Passkey: the page offers a passkey sign-in (passkeys are on).
	Passkey bool
}

func (p *Pages) loginView(w http.ResponseWriter, r *http.Request) *view {
	v := p.view(w, r, "login", "login.title")
	v.withContinue(checkContinue(r.FormValue("continue")))
	v.Data = signInData{Passwordless: p.d.Passwordless, Signup: !p.d.SignupOff, Providers: p.providerButtons(v.Continue), Passkey: p.d.Auth.PasskeysEnabled()}
	v.Focus = "email"
	return v
}

func (p *Pages) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	v := p.loginView(w, r)
	if hint := r.URL.Query().Get("login_hint"); hint != "" && len(hint) <= 254 {
		v.set("email", hint)
		v.Focus = "password"
	}
	p.render(w, r, http.StatusOK, v)
}

func (p *Pages) handleLogin(w http.ResponseWriter, r *http.Request) {
	email, pw := r.PostForm.Get("email"), r.PostForm.Get("password")
	device := ""
	if c, err := r.Cookie(p.cookies.device); err == nil {
		device = c.Value
	}
	tr, err := p.d.Auth.PasswordLogin(r.Context(), email, pw, device, requester(r.Context()))
	if p.toSecondStep(w, r, err, checkContinue(r.PostForm.Get("continue"))) {
		return
	}
	if err != nil {
		v := p.loginView(w, r)
		v.set("email", email)
		status := p.explain(r, v, err)
		if status == http.StatusForbidden {
			// The password was right and the address is unverified:
			// a new link goes out (quota-limited), as the message says.
			_ = p.d.Auth.ResendVerification(r.Context(), email, auth.RequesterFrom(r.Context()))
		}
		p.render(w, r, status, v)
		return
	}
	p.startSession(w, r, tr)
	p.afterSignIn(w, r, next(r))
}

// handleLoginCode sends a sign-in code (send=1) or signs in with one.
func (p *Pages) handleLoginCode(w http.ResponseWriter, r *http.Request) {
	if !p.d.Passwordless {
		p.say(w, r, http.StatusNotFound, "error.not_found_title", "error.not_found", nil)
		return
	}
	email := r.PostForm.Get("email")
	v := p.view(w, r, "code", "code.title")
	v.withContinue(checkContinue(r.PostForm.Get("continue")))
	v.set("email", email)
	if r.PostForm.Get("send") != "" {
		if err := p.d.Auth.RequestOTP(r.Context(), email, auth.RequesterFrom(r.Context())); err != nil {
			lv := p.loginView(w, r)
			lv.set("email", email)
			p.render(w, r, p.explain(r, lv, err), lv)
			return
		}
		p.render(w, r, http.StatusOK, v)
		return
	}
	tr, err := p.d.Auth.OTPCodeLogin(r.Context(), email, r.PostForm.Get("code"), requester(r.Context()))
	if p.toSecondStep(w, r, err, v.Continue) {
		return
	}
	if err != nil {
		status := http.StatusBadRequest
		if ae := p.d.Answer(err); ae.Code == apperr.CodeInvalidGrant || ae.Code == apperr.CodeInvalidRequest {
			v.fail("code", v.T("error.invalid_code"))
		} else {
			status = p.explain(r, v, err)
		}
		p.render(w, r, status, v)
		return
	}
	p.startSession(w, r, tr)
	p.afterSignIn(w, r, next(r))
}

func (p *Pages) signupView(w http.ResponseWriter, r *http.Request) *view {
	v := p.view(w, r, "signup", "signup.title")
	v.withContinue(checkContinue(r.FormValue("continue")))
	v.Data = signInData{Providers: p.providerButtons(v.Continue)}
	v.Focus = "email"
	return v
}

func (p *Pages) handleSignupPage(w http.ResponseWriter, r *http.Request) {
	if p.d.SignupOff {
		p.say(w, r, http.StatusForbidden, "error.title", "error.signup_disabled", &link{"/login", "common.back_to_signin"})
		return
	}
	v := p.signupView(w, r)
	if hint := r.URL.Query().Get("login_hint"); hint != "" && len(hint) <= 254 {
		v.set("email", hint)
	}
	p.render(w, r, http.StatusOK, v)
}

func (p *Pages) handleSignup(w http.ResponseWriter, r *http.Request) {
	if p.d.SignupOff {
		p.say(w, r, http.StatusForbidden, "error.title", "error.signup_disabled", &link{"/login", "common.back_to_signin"})
		return
	}
	email := r.PostForm.Get("email")
	res, err := p.d.Auth.Signup(r.Context(), auth.SignupInput{Email: email, Password: r.PostForm.Get("password"), Requester: requester(r.Context())})
	if err != nil {
		v := p.signupView(w, r)
		v.set("email", email)
		p.render(w, r, p.explain(r, v, err), v)
		return
	}
	if res.VerificationSent {
		v := p.view(w, r, "message", "signup.check_title")
		v.Data = message{Text: v.T("signup.check", "email", auth.NormalizeEmail(email))}
		p.render(w, r, http.StatusAccepted, v)
		return
	}
	p.startSession(w, r, res.Tokens)
	http.Redirect(w, r, next(r), http.StatusSeeOther)
}

func (p *Pages) handleLogoutPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := p.principal(r); !ok {
		p.say(w, r, http.StatusOK, "logout.done_title", "logout.done", &link{"/login", "login.submit"})
		return
	}
	p.render(w, r, http.StatusOK, p.view(w, r, "logout", "logout.title"))
}

// handleLogout ends the browser session (scope global: every session of
// the user, the apps' too) and clears its cookie.
func (p *Pages) handleLogout(w http.ResponseWriter, r *http.Request) {
	pr, ok := p.principal(r)
	var err error
	switch {
	case ok && r.PostForm.Get("scope") == auth.ScopeGlobal:
		err = p.d.Auth.Logout(r.Context(), pr, auth.ScopeGlobal)
	case ok:
		err = p.d.Auth.EndBrowserSession(r.Context(), p.sessionCookie(r))
	}
	if err != nil {
		v := p.view(w, r, "message", "error.title")
		v.Data = message{}
		p.render(w, r, p.explain(r, v, err), v)
		return
	}
	p.setCookie(w, p.cookies.session, "", -1)
	v := p.view(w, r, "message", "logout.done_title")
	v.SignedIn = false
	v.Data = message{Text: v.T("logout.done"), Next: &link{"/login", "login.submit"}}
	p.render(w, r, http.StatusOK, v)
}

// recoverPage asks for the address to send a reset link to.
func (p *Pages) recoverPage(w http.ResponseWriter, r *http.Request) {
	v := p.view(w, r, "recover", "recover.title")
	v.withContinue(checkContinue(r.FormValue("continue")))
	v.Data = struct{ Sent bool }{}
	v.Focus = "email"
	p.render(w, r, http.StatusOK, v)
}

func (p *Pages) recoverRequest(w http.ResponseWriter, r *http.Request) {
	email := r.PostForm.Get("email")
	v := p.view(w, r, "recover", "recover.title")
	v.withContinue(checkContinue(r.PostForm.Get("continue")))
	v.set("email", email)
	if err := p.d.Auth.Recover(r.Context(), email, auth.RequesterFrom(r.Context())); err != nil {
		v.Data = struct{ Sent bool }{}
		p.render(w, r, p.explain(r, v, err), v)
		return
	}
	v.Data = struct{ Sent bool }{true}
	v.Alert = &alert{Kind: "success", Text: v.T("recover.sent", "email", auth.NormalizeEmail(email))}
	p.render(w, r, http.StatusAccepted, v)
}
