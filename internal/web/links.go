package web

import (
	"errors"
	"net/http"

	"github.com/latchauth/latch/internal/apperr"
	"github.com/latchauth/latch/internal/auth"
)

// The pages the links in latch's messages open. Opening a link (GET)
// changes nothing: it shows a form whose button POSTs the token back, so
// mail scanners that fetch every link cannot spend a token, and the
// token leaves the address bar once it is used.

type linkKind struct {
	path, prefix string // prefix: the catalog keys' prefix
	password     bool   // the form sets a password
	act          func(p *Pages, w http.ResponseWriter, r *http.Request, tok, pw string) error
}

var linkKinds = []linkKind{
	{"/verify", "verify", true, (*Pages).verify},
	{"/recover", "reset", true, func(p *Pages, _ http.ResponseWriter, r *http.Request, tok, pw string) error {
		return p.d.Auth.ResetPassword(r.Context(), tok, pw, auth.RequesterFrom(r.Context()))
	}},
	{"/invite", "invite", true, func(p *Pages, _ http.ResponseWriter, r *http.Request, tok, pw string) error {
		return p.d.Auth.ResetPassword(r.Context(), tok, pw, auth.RequesterFrom(r.Context()))
	}},
	{"/email-change", "email_change", false, func(p *Pages, _ http.ResponseWriter, r *http.Request, tok, _ string) error {
		_, err := p.d.Auth.ConfirmEmailChange(r.Context(), tok, auth.RequesterFrom(r.Context()))
		return err
	}},
	{"/email-revert", "email_revert", false, func(p *Pages, _ http.ResponseWriter, r *http.Request, tok, _ string) error {
		return p.d.Auth.RevertEmailChange(r.Context(), tok, auth.RequesterFrom(r.Context()))
	}},
}

// linkData is the Data of a link page.
type linkData struct {
	Action, Lead, Button, Token string
	Password                    bool
}

func (p *Pages) linkRoutes() []Route {
	var rs []Route
	for _, k := range linkKinds {
		rs = append(rs,
			Route{"GET " + k.path, p.linkPage(k), false},
			Route{"POST " + k.path, p.form(p.linkPost(k)), true})
	}
	return rs
}

func (p *Pages) linkForm(w http.ResponseWriter, r *http.Request, k linkKind, tok string) *view {
	v := p.view(w, r, "link", k.prefix+".title")
	v.Data = linkData{Action: k.path, Lead: k.prefix + ".lead", Button: k.prefix + ".submit", Token: tok, Password: k.password}
	if k.password {
		v.Focus = "password"
	}
	return v
}

func (p *Pages) linkPage(k linkKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := r.URL.Query().Get("token")
		if tok == "" {
			if k.path == "/recover" && !p.d.UIOff {
				p.recoverPage(w, r)
				return
			}
			p.say(w, r, http.StatusBadRequest, "link.missing_title", "link.missing", nil)
			return
		}
		p.render(w, r, http.StatusOK, p.linkForm(w, r, k, tok))
	}
}

func (p *Pages) linkPost(k linkKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := r.PostForm.Get("token")
		if tok == "" && k.path == "/recover" && !p.d.UIOff {
			p.recoverRequest(w, r)
			return
		}
		err := k.act(p, w, r, tok, r.PostForm.Get("password"))
		if err == nil {
			var next *link
			text := k.prefix + ".done"
			switch {
			case p.d.UIOff:
				if k.path == "/verify" {
					text = "verify.done_signin" // the API-only server signs nobody in here
				}
			case k.path == "/verify":
				next = &link{"/account", "nav.account"}
			default:
				next = &link{"/login", "common.back_to_signin"}
			}
			p.say(w, r, http.StatusOK, k.prefix+".done_title", text, next)
			return
		}
		ae := p.d.Answer(err)
		switch {
		case ae.Code == apperr.CodeWeakPassword, ae.Code == apperr.CodeInvalidRequest && ae.Field == "password":
			v := p.linkForm(w, r, k, tok)
			p.explain(r, v, err)
			p.render(w, r, ae.Status, v)
		case errors.Is(err, auth.ErrInvalidLink), ae.Code == apperr.CodeInvalidRequest, ae.Code == apperr.CodeInvalidGrant:
			p.say(w, r, ae.Status, "link.dead_title", "link.dead", nil)
		case errors.Is(err, auth.ErrEmailTaken):
			p.say(w, r, ae.Status, "error.title", "error.email_taken", nil)
		default:
			v := p.view(w, r, "message", "error.title")
			p.explain(r, v, err)
			v.Data = message{}
			p.render(w, r, ae.Status, v)
		}
	}
}

// verify spends a verification link, which sets the account's password,
// and signs the person in on this browser.
func (p *Pages) verify(w http.ResponseWriter, r *http.Request, tok, pw string) error {
	tr, err := p.d.Auth.VerifyEmailLink(r.Context(), tok, pw, requester(r.Context()), !p.d.UIOff)
	var second *auth.MFARequired
	if errors.As(err, &second) {
		// Verified; the sign-in waits for a second factor this page
		// does not ask for: the person signs in from the sign-in page.
		return nil
	}
	if err != nil {
		return err
	}
	if !p.d.UIOff {
		p.startSession(w, r, tr)
	}
	return nil
}

// say renders a page that only tells something.
func (p *Pages) say(w http.ResponseWriter, r *http.Request, status int, title, text string, next *link) {
	v := p.view(w, r, "message", title)
	v.Data = message{Text: v.T(text), Next: next}
	p.render(w, r, status, v)
}
