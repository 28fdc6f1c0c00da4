package web

import (
	"cmp"
	"errors"
	"net/http"
	"net/url"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/connector"
)

// Sign-in with a social provider in the browser. A flow starts from a
// button on the sign-in page (GET /login/provider/{id}), from an
// application (GET /v1/authorize?provider=…), from the account page (to
// link one) or from an application's link URL (GET /v1/link); each sets
// the flow cookie and sends the browser to the provider, which comes
// back to /v1/callback/{id}. The callback is exempt from the CSRF and
// cross-origin checks of the forms, since the provider calls it (Apple
// with a cross-site POST): the flow cookie, the state it holds, the
// nonce and PKCE protect it instead.

// flowCookie is the cookie that binds a provider flow to this browser.
// Over HTTPS it is SameSite=None, so that it also reaches a callback the
// provider POSTs from its own site (form_post); over loopback HTTP,
// where None needs Secure, Lax.
func (p *Pages) setFlowCookie(w http.ResponseWriter, value string, clear bool) {
	c := &http.Cookie{Name: p.cookies.flow, Value: value, Path: "/", HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode, MaxAge: int(auth.FlowTTL.Seconds())}
	if p.secure {
		c.SameSite = http.SameSiteNoneMode
	}
	if clear {
		c.Value, c.MaxAge = "", -1
	}
	http.SetCookie(w, c)
}

// providerButton is one provider on the sign-in and account pages.
type providerButton struct {
	ID, Name, Href string
}

// providerButtons are the sign-in page's provider buttons, each
// carrying the page's continuation.
func (p *Pages) providerButtons(next string) []providerButton {
	var out []providerButton
	for _, pr := range p.d.Auth.Providers() {
		href := "/login/provider/" + pr.ID
		if next != "" {
			href += "?" + url.Values{"continue": {next}}.Encode()
		}
		out = append(out, providerButton{ID: pr.ID, Name: pr.Name, Href: href})
	}
	return out
}

// handleProviderStart is a sign-in page's provider button.
func (p *Pages) handleProviderStart(w http.ResponseWriter, r *http.Request) {
	next := checkContinue(r.URL.Query().Get("continue"))
	if next == "" {
		next = "/account"
	}
	p.startFlow(w, r, r.PathValue("id"), auth.FlowIntent{Continue: next}, false)
}

// handleLinkStart follows an application's link URL.
func (p *Pages) handleLinkStart(w http.ResponseWriter, r *http.Request) {
	provider, in, ok := p.d.Auth.LinkTicket(r.URL.Query().Get("ticket"))
	if !ok || !AllowedRedirect(p.d.RedirectURLs, in.Redirect) {
		p.say(w, r, http.StatusBadRequest, "provider.failed_title", "provider.link_expired", nil)
		return
	}
	p.startFlow(w, r, provider, in, false)
}

// startFlow sets the flow cookie and sends the browser to the provider:
// by a redirect, or, after a form on latch's pages (whose CSP allows no
// other form target), by a page that goes on by itself.
func (p *Pages) startFlow(w http.ResponseWriter, r *http.Request, id string, in auth.FlowIntent, afterForm bool) {
	fs, err := p.d.Auth.StartFlow(r.Context(), id, in)
	if err != nil {
		p.flowFailed(w, r, auth.FlowResult{FlowIntent: in}, err)
		return
	}
	p.setFlowCookie(w, fs.Cookie, false)
	if afterForm {
		pr, _ := p.d.Auth.Provider(id)
		v := p.view(w, r, "message", "provider.continue_title")
		v.Refresh = fs.URL
		v.Data = message{Text: v.T("provider.continue_text", "provider", pr.Name), Next: &link{Href: fs.URL, Label: "common.continue"}}
		p.render(w, r, http.StatusOK, v)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, fs.URL, http.StatusFound)
}

// handleCallback is where the provider sends the browser back.
func (p *Pages) handleCallback(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, p.d.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		p.say(w, r, http.StatusBadRequest, "provider.failed_title", "provider.flow_invalid", &link{Href: "/login", Label: "common.back_to_signin"})
		return
	}
	cookie := ""
	if c, err := r.Cookie(p.cookies.flow); err == nil {
		cookie = c.Value
	}
	p.setFlowCookie(w, "", true) // one callback per flow
	res, err := p.d.Auth.FinishFlow(r.Context(), r.PathValue("id"), cookie, r.Form, requester(r.Context()))
	switch {
	case p.toSecondStep(w, r, err, checkContinue(res.Continue)):
	case err != nil:
		p.flowFailed(w, r, res, err)
	case res.LinkCode != "" && AllowedRedirect(p.d.RedirectURLs, res.Redirect):
		p.answer(w, r, res.Redirect, res.AppState, url.Values{"link_code": {res.LinkCode}})
	case res.LinkCode != "": // the redirect URI left the configuration meanwhile
		p.say(w, r, http.StatusBadRequest, "provider.failed_title", "provider.link_expired", nil)
	case res.Linked:
		changed(w, r, "linked")
	default:
		p.startSession(w, r, res.Tokens)
		next := checkContinue(res.Continue)
		if next == "" {
			next = "/account"
		}
		http.Redirect(w, r, next, http.StatusSeeOther)
	}
}

// flowFailed answers a provider flow that did not end in a sign-in or a
// link: back to the application with an RFC 6749 error when one is
// waiting and the error is the person's or the provider's to report
// (cancelled, refused, unavailable); otherwise a page that says what
// happened and what to do.
func (p *Pages) flowFailed(w http.ResponseWriter, r *http.Request, res auth.FlowResult, err error) {
	redirect, state := res.Redirect, res.AppState
	if redirect == "" {
		redirect, state = appRequest(res.Continue)
	}
	if !AllowedRedirect(p.d.RedirectURLs, redirect) {
		redirect = ""
	}
	name := res.Provider.Name
	if name == "" {
		name = r.PathValue("id")
	}
	var pe *connector.ProviderError
	code, key, status := "", "provider.failed", http.StatusBadRequest
	switch {
	case errors.As(err, &pe):
		code, key = "access_denied", "provider.denied"
		if pe.Code == "temporarily_unavailable" || pe.Code == "server_error" {
			code, key = pe.Code, "provider.unavailable"
		}
	case errors.Is(err, auth.ErrSignupDisabled):
		code, key, status = "access_denied", "error.signup_disabled", http.StatusForbidden
	case errors.Is(err, auth.ErrProviderUnavailable):
		code, key, status = "temporarily_unavailable", "provider.unavailable", http.StatusServiceUnavailable
	case errors.Is(err, auth.ErrUnknownProvider):
		code, key = "invalid_request", "provider.unknown"
	case errors.Is(err, auth.ErrFlowInvalid):
		key = "provider.flow_invalid" // a page, never a redirect: this browser did not start it
		redirect = ""
	case errors.Is(err, auth.ErrIdentityLinkRequired):
		if res.PendingLink != "" {
			p.setCookie(w, p.cookies.link, res.PendingLink, auth.FlowTTL)
		}
		v := p.view(w, r, "message", "provider.link_required_title")
		login := "/login"
		if next := checkContinue(res.Continue); next != "" {
			login += "?" + url.Values{"continue": {next}}.Encode()
		}
		v.Data = message{Text: v.T("provider.link_required", "provider", name), Next: &link{Href: login, Label: "login.submit"}}
		p.render(w, r, http.StatusConflict, v)
		return
	case errors.Is(err, auth.ErrIdentityTaken):
		key, status = "provider.taken", http.StatusConflict
	case errors.Is(err, auth.ErrProviderEmail):
		key, status = "provider.email_unverified", http.StatusForbidden
	case errors.Is(err, auth.ErrAccountDisabled):
		key, status = "provider.disabled", http.StatusForbidden
	default:
		status = p.d.Answer(err).Status
		p.logFailure(r, status, err)
	}
	if redirect != "" && code != "" {
		p.answer(w, r, redirect, state, url.Values{"error": {code}, "error_description": {describeFlowError(code)}})
		return
	}
	back := "/login"
	if next := checkContinue(res.Continue); next != "" && res.LinkUser == "" {
		back += "?" + url.Values{"continue": {next}}.Encode()
	} else if res.LinkUser != "" {
		back = "/account"
	}
	v := p.view(w, r, "message", "provider.failed_title")
	v.Data = message{Text: v.T(key, "provider", name), Next: &link{Href: back, Label: "common.continue"}}
	p.render(w, r, status, v)
}

func describeFlowError(code string) string {
	switch code {
	case "access_denied":
		return "the person did not sign in with the provider, or may not sign up here"
	case "temporarily_unavailable", "server_error":
		return "the sign-in provider cannot be reached; try again later"
	}
	return "the sign-in provider is not configured"
}

// appRequest reads the redirect URI and state of the authorization
// request a continuation resumes; "" if it resumes none.
func appRequest(cont string) (redirect, state string) {
	u, err := url.Parse(checkContinue(cont))
	if err != nil || u.Path != "/v1/authorize" {
		return "", ""
	}
	q := u.Query()
	return q.Get("redirect_uri"), q.Get("state")
}

// linkProvider is the account page's "Link" button: with the proof a
// link needs, the browser goes on to the provider.
func (p *Pages) linkProvider(w http.ResponseWriter, r *http.Request) {
	pr, ok := p.signedIn(w, r)
	if !ok {
		return
	}
	id := r.PostForm.Get("provider")
	if _, ok := p.d.Auth.Provider(id); !ok {
		p.showAccount(w, r, pr, auth.ErrUnknownProvider, nil)
		return
	}
	if err := p.d.Auth.CheckLinkProof(r.Context(), pr, r.PostForm.Get("link_password")); err != nil {
		p.showAccount(w, r, pr, pageField(err, "current_password", "link_password"), nil, "link", id)
		return
	}
	p.startFlow(w, r, id, auth.FlowIntent{Continue: "/account", LinkUser: pr.User.ID, LinkSession: pr.Session.ID}, true)
}

func (p *Pages) unlinkProvider(r *http.Request, pr auth.Principal) ([]string, error) {
	return nil, p.d.Auth.UnlinkIdentity(r.Context(), pr, r.PostForm.Get("id"))
}

// After a provider's person was asked to sign in to the account that has
// their address (ErrIdentityLinkRequired), the browser holds the
// identity, sealed, in the link cookie. Their next sign-in on these
// pages stops at /login/link, which asks whether to link it; only a yes
// links it. The cookie lives as long as a provider flow and goes at the
// first answer.

// afterSignIn goes on to next, by way of the link offer when one waits.
func (p *Pages) afterSignIn(w http.ResponseWriter, r *http.Request, next string) {
	if c, err := r.Cookie(p.cookies.link); err == nil {
		if _, _, ok := p.d.Auth.OfferedLink(c.Value); ok {
			http.Redirect(w, r, "/login/link?"+url.Values{"continue": {next}}.Encode(), http.StatusSeeOther)
			return
		}
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// linkOffer is the Data of the link offer page.
type linkOffer struct {
	Provider, Email string
}

func (p *Pages) handleLinkOffer(w http.ResponseWriter, r *http.Request) {
	pr, ok := p.principal(r)
	c, err := r.Cookie(p.cookies.link)
	var prov auth.Provider
	var email string
	if ok && err == nil {
		prov, email, ok = p.d.Auth.OfferedLink(c.Value)
	}
	next := checkContinue(r.FormValue("continue"))
	if next == "" {
		next = "/account"
	}
	if !ok || err != nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	v := p.view(w, r, "link-offer", "provider.link_offer_title")
	v.withContinue(next)
	v.Data = linkOffer{Provider: prov.Name, Email: cmp.Or(email, pr.User.Email)}
	p.render(w, r, http.StatusOK, v)
}

func (p *Pages) acceptLinkOffer(w http.ResponseWriter, r *http.Request) {
	next := checkContinue(r.PostForm.Get("continue"))
	if next == "" {
		next = "/account"
	}
	pr, ok := p.principal(r)
	c, err := r.Cookie(p.cookies.link)
	p.setCookie(w, p.cookies.link, "", -1) // one answer
	if !ok || err != nil || r.PostForm.Get("link") != "yes" {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	if err := p.d.Auth.AcceptLink(r.Context(), pr, c.Value); err != nil {
		p.flowFailed(w, r, auth.FlowResult{FlowIntent: auth.FlowIntent{LinkUser: pr.User.ID}}, err)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}
