package web

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/latchauth/latch/internal/i18n"
)

// view is what a page template sees: the page's own Data, and what every
// page shows (language, theme, CSRF token, the form's values and
// errors).
type view struct {
	i18n.Lang
	name     string // the template
	Title    string // a catalog key
	Product  string
	LogoURL  string
	Monogram string
	Wide     bool
	SignedIn bool
	CSRF     string
	// Continue is where a sign-in goes next (a checked local path); Query
	// carries it to the links between the sign-in pages.
	Continue string
	Query    string
	Focus    string // the field that takes focus
	// Refresh is where the page goes on to by itself (a provider, after
	// a form whose CSP may not redirect there); "" for none.
	Refresh string
	Alert   *alert
	values  map[string]string
	errs    map[string]string
	reasons map[string][]string
	minLen  int
	Data    any
}

type alert struct {
	Kind string // "error", "success" or "info"
	Text string
	Link *link // what to do about it, if anything
}

// message is the Data of a page that only tells something.
type message struct {
	Text string
	Next *link
}

type link struct {
	Href  string
	Label string // a catalog key
}

// view starts a page for this request: language from Accept-Language,
// theme, and the CSRF token of this browser (its cookie is set now if it
// has none).
func (p *Pages) view(w http.ResponseWriter, r *http.Request, name, title string) *view {
	v := &view{
		Lang:    p.d.Catalog.Match(r.Header.Get("Accept-Language")),
		name:    name,
		Title:   title,
		Product: p.d.Theme.Product,
		LogoURL: p.d.Theme.LogoURL,
		CSRF:    p.csrfToken(w, r),
		values:  map[string]string{},
		errs:    map[string]string{},
		minLen:  p.d.PasswordMin,
	}
	if r, _ := utf8.DecodeRuneInString(v.Product); r != utf8.RuneError {
		v.Monogram = string(unicode.ToUpper(r))
	}
	if _, err := r.Cookie(p.cookies.session); err == nil {
		v.SignedIn = true
	}
	return v
}

// Name is the page's template name ("login", "account"...).
func (v *view) Name() string { return v.name }

// Heading is the page's title in its language.
func (v *view) Heading() string { return v.TP(v.Title) }

// TP is the message for key with the product's name filled in.
func (v *view) TP(key string) string { return v.T(key, "product", v.Product) }

// Val is the value a field shows again after a failed submission
// (never a password).
func (v *view) Val(field string) string { return v.values[field] }

// Err is the error shown under a field, "" for none.
func (v *view) Err(field string) string { return v.errs[field] }

// set keeps a submitted value to show again.
func (v *view) set(field, value string) { v.values[field] = value }

// fail puts an error under a field and focuses it.
func (v *view) fail(field, msg string) {
	v.errs[field] = msg
	if v.Focus == "" {
		v.Focus = field
	}
}

// secretField is a password input as the "secret" template draws it.
type secretField struct {
	Name, Label, Autocomplete string
	Autofocus                 bool
	Hint, Error               string
	Reasons                   []string
	Describe                  string
	Link, LinkText            string
	Show, Hide                string
}

// Secret describes a password field: its label from the catalog, a hint
// for a new password, its error and the policy's reasons.
func (v *view) Secret(name, autocomplete string) secretField {
	f := secretField{
		Name: name, Label: v.T("field." + name), Autocomplete: autocomplete,
		Autofocus: v.Focus == name, Error: v.errs[name], Reasons: v.reasons[name],
		Show: v.T("common.show"), Hide: v.T("common.hide"),
	}
	if autocomplete == "new-password" {
		f.Hint = v.T("hint.new_password", "min", strconv.Itoa(v.minLen))
	}
	var ids []string
	if f.Hint != "" {
		ids = append(ids, name+"-hint")
	}
	if f.Error != "" || len(f.Reasons) > 0 {
		ids = append(ids, name+"-error")
	}
	f.Describe = strings.Join(ids, " ")
	if name == "password" && autocomplete == "current-password" {
		f.Link, f.LinkText = "/recover"+v.Query, v.T("login.forgot")
	}
	return f
}

// Date shows a time as a date in the page's language.
func (v *view) Date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	if v.Tag() == "de" {
		return t.UTC().Format("02.01.2006 15:04 UTC")
	}
	return t.UTC().Format("Jan 2, 2006 15:04 UTC")
}

// withContinue carries a checked continuation to the page and its links.
func (v *view) withContinue(next string) {
	if next == "" {
		return
	}
	v.Continue = next
	v.Query = "?" + url.Values{"continue": {next}}.Encode()
}

// EmailAutocomplete is the email field's autocomplete: on the sign-in
// page with passkeys on, the browser may offer passkeys in it too
// (WebAuthn's conditional mediation).
func (v *view) EmailAutocomplete() string {
	if d, ok := v.Data.(signInData); ok && d.Passkey && v.name == "login" {
		return "username webauthn"
	}
	return "username"
}

// QueryWith is the page's query (its continuation) with one more
// parameter, for a link to another form of the same page.
func (v *view) QueryWith(key, value string) string {
	q := url.Values{key: {value}}
	if v.Continue != "" {
		q.Set("continue", v.Continue)
	}
	return "?" + q.Encode()
}

// render writes the page with the headers every page has: a strict CSP
// (scripts and styles only from latch itself, no inline code), no
// framing, no caching, no referrer.
func (p *Pages) render(w http.ResponseWriter, r *http.Request, status int, v *view) {
	t, ok := p.pages[v.name]
	if !ok {
		panic("web: no template " + v.name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		// A template error is a defect; the person sees a plain error.
		p.d.Log.Error("render page", "page", v.name, "error", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", p.csp(v.name))
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Language", v.Tag())
	h.Set("Vary", "Accept-Language, Cookie")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		// The status is sent; an error now is a broken connection.
		_, _ = w.Write(buf.Bytes())
	}
}

// csp is a page's Content-Security-Policy. A form whose answer can
// redirect the browser on to an application (sign-in, sign-up, code)
// may post to latch and, through that redirect, reach the registered
// redirect URIs' origins (CSP form-action covers redirects); no other
// page's forms leave latch.
func (p *Pages) csp(page string) string {
	form := "'self'"
	switch page {
	case "login", "signup", "code", "link-offer", "mfa":
		form += p.formCSP
	}
	// The pages whose script asks latch for WebAuthn options may
	// connect to latch; no other page connects anywhere.
	connect := ""
	switch page {
	case "login", "mfa":
		connect = "; connect-src 'self'"
	}
	img := "'self'"
	if u, err := url.Parse(p.d.Theme.LogoURL); err == nil && u.Host != "" {
		img += " " + u.Scheme + "://" + u.Host
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src " + img +
		connect + "; form-action " + form + "; frame-ancestors 'none'; base-uri 'none'"
}

// formSources lists the origins of the redirect URIs, for form-action.
func formSources(redirects []string) string {
	var b strings.Builder
	seen := map[string]bool{}
	for _, r := range redirects {
		u, err := url.Parse(r)
		if err != nil || u.Scheme == "" {
			continue
		}
		src := u.Scheme + ":"
		if u.Host != "" {
			src = u.Scheme + "://" + u.Host
			if isLoopbackLiteral(u.Hostname()) && u.Port() == "" {
				src += ":*"
			}
		}
		if !seen[src] {
			seen[src] = true
			b.WriteString(" " + src)
		}
	}
	return b.String()
}

// logFailure logs what an error page hides: server-side failures only.
func (p *Pages) logFailure(r *http.Request, status int, err error) {
	if status < 500 {
		return
	}
	level := slog.LevelError
	if status == http.StatusServiceUnavailable {
		level = slog.LevelWarn
	}
	p.d.Log.Log(r.Context(), level, "request failed", "status", status, "error", err)
}
