package web

import (
	"errors"
	"html/template"
	"log/slog"
	"net/http"

	"github.com/latchauth/latch/internal/apperr"
	"github.com/latchauth/latch/internal/auth"
)

// latch's own pages for the links in its messages. Opening a link (GET)
// changes nothing: it shows a form whose button POSTs the token back, so
// mail scanners that fetch every link cannot spend a token. They are
// plain HTML with no script, for applications that host no pages of
// their own (LATCH_APP_URL unset).

type pageKind int

const (
	pageVerify pageKind = iota
	pageRecover
	pageEmailChange
	pageEmailRevert
)

type pageData struct {
	Product string
	Title   string
	Message string
	Token   string
	Action  string // the path the form posts to; "" for no form
	Button  string
	// Password: the form asks for a new password; PasswordLabel names
	// the field.
	Password      bool
	PasswordLabel string
	Reasons       []apperr.Reason
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{.Title}} · {{.Product}}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem;color:#1a1a1a}
h1{font-size:1.4rem}label{display:block;margin:.8rem 0 .2rem}
input{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}
button{margin-top:1rem;padding:.6rem 1.2rem;font-size:1rem;cursor:pointer}
.reasons{color:#a00}
</style>
</head>
<body>
<h1>{{.Title}}</h1>
{{if .Message}}<p>{{.Message}}</p>{{end}}
{{if .Reasons}}<ul class="reasons">{{range .Reasons}}<li>{{.Message}}</li>{{end}}</ul>{{end}}
{{if .Action}}<form method="post" action="{{.Action}}">
<input type="hidden" name="token" value="{{.Token}}">
{{if .Password}}<label for="password">{{.PasswordLabel}}</label>
<input id="password" name="password" type="password" autocomplete="new-password" minlength="8" maxlength="256" required autofocus>
{{end}}<button type="submit">{{.Button}}</button>
</form>{{end}}
<p><small>{{.Product}}</small></p>
</body>
</html>
`))

// form is the page that asks the user to confirm, before anything
// changes.
func (k pageKind) form(tok string) pageData {
	switch k {
	case pageRecover:
		return pageData{Title: "Choose a new password", Action: "/recover", Button: "Set password", Password: true, PasswordLabel: "New password", Token: tok,
			Message: "Every device signed in to your account will be signed out."}
	case pageEmailChange:
		return pageData{Title: "Confirm your new address", Action: "/email-change", Button: "Confirm", Token: tok,
			Message: "Your account will use this address from now on."}
	case pageEmailRevert:
		return pageData{Title: "Undo the change of address", Action: "/email-revert", Button: "Undo the change", Token: tok,
			Message: "Your account will keep this address. Every device will be signed out and the password removed; we will send you a link to choose a new one."}
	default:
		return pageData{Title: "Verify your address", Action: "/verify", Button: "Verify", Password: true, PasswordLabel: "Your password", Token: tok,
			Message: "Type the password for this account. If you did not create it, choose a new one: whatever password it had before is replaced, and every device signed in to it is signed out."}
	}
}

func (k pageKind) done() pageData {
	switch k {
	case pageRecover:
		return pageData{Title: "Password changed", Message: "Your password is set. Sign in with it in your application."}
	case pageEmailChange:
		return pageData{Title: "Address changed", Message: "Your account now uses this address."}
	case pageEmailRevert:
		return pageData{Title: "Change undone", Message: "Your account uses this address again and every device is signed out. Look for a message with a link to choose a new password."}
	default:
		return pageData{Title: "Address verified", Message: "Thank you. You can close this page and sign in."}
	}
}

// Deps are what the pages need.
type Deps struct {
	Auth         *auth.Service
	ProductName  string
	MaxBodyBytes int64
	Log          *slog.Logger
	// Answer finds the answer an error gets, as the API gives it (its
	// status decides the page's).
	Answer func(error) *apperr.Error
}

// Pages serves latch's own pages.
type Pages struct{ d Deps }

// New returns the pages.
func New(d Deps) *Pages {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Pages{d: d}
}

// Route is one page route: Limited routes spend something (a token, a
// hash) and go behind the caller's per-address bucket.
type Route struct {
	Pattern string
	Handler http.Handler
	Limited bool
}

// Routes lists every page route, for the server to register.
func (p *Pages) Routes() []Route {
	var rs []Route
	for _, pg := range []struct {
		path string
		kind pageKind
	}{{"/verify", pageVerify}, {"/recover", pageRecover}, {"/email-change", pageEmailChange}, {"/email-revert", pageEmailRevert}} {
		h := p.handlePage(pg.kind)
		rs = append(rs, Route{"GET " + pg.path, h, false}, Route{"POST " + pg.path, h, true})
	}
	return rs
}

func (s *Pages) handlePage(k pageKind) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Inline styles and a form that posts here; nothing else.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			tok := r.URL.Query().Get("token")
			if tok == "" {
				s.page(w, http.StatusBadRequest, pageData{Title: "Incomplete link", Message: "This link is missing its token. Open the whole link from the message, or ask for a new one."})
				return
			}
			s.page(w, http.StatusOK, k.form(tok))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.d.MaxBodyBytes)
		if err := r.ParseForm(); err != nil {
			s.page(w, http.StatusBadRequest, pageData{Title: "Something is wrong", Message: "The form could not be read. Open the link from the message again."})
			return
		}
		tok := r.PostForm.Get("token")
		var err error
		switch k {
		case pageRecover:
			err = s.d.Auth.ResetPassword(r.Context(), tok, r.PostForm.Get("password"), auth.RequesterFrom(r.Context()))
		case pageEmailChange:
			_, err = s.d.Auth.ConfirmEmailChange(r.Context(), tok, auth.RequesterFrom(r.Context()))
		case pageEmailRevert:
			err = s.d.Auth.RevertEmailChange(r.Context(), tok, auth.RequesterFrom(r.Context()))
		default:
			_, err = s.d.Auth.VerifyEmailLink(r.Context(), tok, r.PostForm.Get("password"), auth.RequesterFrom(r.Context()), false)
		}
		if err != nil {
			s.pageError(w, r, k, tok, err)
			return
		}
		s.page(w, http.StatusOK, k.done())
	})
}

// pageError shows an error as a page, with the status the API would give.
func (s *Pages) pageError(w http.ResponseWriter, r *http.Request, k pageKind, tok string, err error) {
	ae := s.d.Answer(err)
	d := pageData{Title: "Something went wrong", Message: "Please try again in a moment."}
	switch {
	case ae.Code == apperr.CodeWeakPassword:
		d = k.form(tok)
		d.Reasons = ae.Reasons
	case ae.Code == apperr.CodeInvalidRequest && ae.Field == "password":
		d = k.form(tok)
		d.Message = "Enter a password."
	case errors.Is(err, auth.ErrInvalidLink), ae.Code == apperr.CodeInvalidRequest:
		d = pageData{Title: "This link no longer works", Message: "It was already used, has expired, or your account changed since it was sent. Ask for a new one from your application."}
	case errors.Is(err, auth.ErrEmailTaken):
		d = pageData{Title: "Address taken", Message: "Another account uses this address now, so yours was not changed."}
	case ae.Status == http.StatusTooManyRequests:
		d = pageData{Title: "Too many attempts", Message: "Wait a while and try again."}
	}
	if ae.Status >= 500 {
		level := slog.LevelError
		if ae.Status == http.StatusServiceUnavailable {
			level = slog.LevelWarn
		}
		s.d.Log.Log(r.Context(), level, "request failed", "status", ae.Status, "error", err)
	}
	s.page(w, ae.Status, d)
}

func (s *Pages) page(w http.ResponseWriter, status int, d pageData) {
	d.Product = s.d.ProductName
	if d.Product == "" {
		d.Product = "latch"
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	// The status is sent; an error now is a broken connection.
	_ = pageTemplate.Execute(w, d)
}
