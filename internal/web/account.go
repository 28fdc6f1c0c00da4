package web

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/store"
)

// The account page: profile, password, email address, and the sessions
// the person can see and end. Every change goes through the same rules
// as the JSON API's (auth.Service), with the browser session as the
// caller.

// sessionRow is one session as the account page lists it.
type sessionRow struct {
	ID, Agent, IP, KindLabel string
	LastActiveAt             time.Time
	Current                  bool
}

type accountData struct {
	User        store.User
	HasPassword bool
	Sessions    []sessionRow
	Identities  []identityRow
	// Linkable are the providers not linked yet; LinkNeedsPassword: a
	// link asks for the password (the sign-in is not recent).
	Linkable          []providerButton
	LinkNeedsPassword bool
	// LastMethod: the only identity is the only way in (no password).
	LastMethod bool
	// MFA is the part about second factors.
	MFA factorSection
}

// identityRow is one linked provider as the account page lists it.
type identityRow struct {
	ID, Provider, Email string
	CreatedAt           time.Time
}

// signedIn returns the browser session, or sends the browser to sign in
// and come back here.
func (p *Pages) signedIn(w http.ResponseWriter, r *http.Request) (auth.Principal, bool) {
	pr, ok := p.principal(r)
	if !ok {
		http.Redirect(w, r, "/login?"+url.Values{"continue": {"/account"}}.Encode(), http.StatusSeeOther)
	}
	return pr, ok
}

func (p *Pages) accountView(w http.ResponseWriter, r *http.Request, pr auth.Principal) (*view, error) {
	v := p.view(w, r, "account", "account.title")
	v.Wide = true
	list, err := p.d.Auth.ListSessions(r.Context(), pr)
	if err != nil {
		return v, err
	}
	d := accountData{User: pr.User, HasPassword: pr.User.PasswordHash != ""}
	for _, s := range list {
		row := sessionRow{ID: s.ID, Agent: agentName(s.UserAgent), IP: s.IP, Current: s.Current, LastActiveAt: s.LastActiveAt, KindLabel: "account.kind_app"}
		if row.Agent == "" {
			row.Agent = v.T("account.unknown_agent")
		}
		if s.Kind == store.SessionBrowser {
			row.KindLabel = "account.kind_browser"
		}
		d.Sessions = append(d.Sessions, row)
	}
	ids, err := p.d.Auth.Identities(r.Context(), pr.User.ID)
	if err != nil {
		return v, err
	}
	linked := map[string]bool{}
	for _, i := range ids {
		name := i.Provider
		if prov, ok := p.d.Auth.Provider(i.Provider); ok {
			name = prov.Name
		}
		linked[i.Provider] = true
		d.Identities = append(d.Identities, identityRow{ID: i.ID, Provider: name, Email: i.Email, CreatedAt: i.CreatedAt})
	}
	for _, b := range p.providerButtons("") {
		if !linked[b.ID] {
			d.Linkable = append(d.Linkable, b)
		}
	}
	d.LinkNeedsPassword = d.HasPassword && !p.d.Auth.SignedInWithin(pr, auth.RecentAuth)
	d.LastMethod = !d.HasPassword && len(ids) == 1
	if d.MFA, err = p.factorSection(r, pr, d.HasPassword); err != nil {
		return v, err
	}
	v.Data = d
	return v, nil
}

// accountNotices are what a change on the account page says once done:
// the change redirects to /account?done=NAME (post/redirect/get, so a
// reload does not submit it again), and only these names are shown.
var accountNotices = map[string]string{
	"password":       "account.password_done",
	"email":          "account.email_sent",
	"ended":          "account.ended",
	"ended_others":   "account.ended_others",
	"linked":         "account.linked_done",
	"unlinked":       "account.unlinked_done",
	"factor_added":   "factors.added",
	"factor_removed": "factors.removed",
	"codes":          "factors.codes_done",
}

func (p *Pages) handleAccount(w http.ResponseWriter, r *http.Request) {
	pr, ok := p.signedIn(w, r)
	if !ok {
		return
	}
	var notice []string
	if key, ok := accountNotices[r.URL.Query().Get("done")]; ok {
		notice = []string{key}
	}
	p.showAccount(w, r, pr, nil, notice)
}

// changed ends a successful change: back to the account page, which
// says what was done.
func changed(w http.ResponseWriter, r *http.Request, done string) {
	http.Redirect(w, r, "/account?done="+done, http.StatusSeeOther)
}

// showAccount draws the account page, with an outcome: a notice (a
// catalog key and its values), or the error of a change, shown next to
// its field. keep lists fields and values to show again.
func (p *Pages) showAccount(w http.ResponseWriter, r *http.Request, pr auth.Principal, failed error, notice []string, keep ...string) {
	v, err := p.accountView(w, r, pr)
	if err != nil {
		failed = err
	}
	for i := 0; i+1 < len(keep); i += 2 {
		v.set(keep[i], keep[i+1])
	}
	status := http.StatusOK
	if failed != nil {
		status = p.explain(r, v, failed)
	} else if len(notice) > 0 {
		v.Alert = &alert{Kind: "success", Text: v.T(notice[0], notice[1:]...)}
	}
	p.render(w, r, status, v)
}

// change is the handler of one change on the account page: for a signed-in
// browser it runs do, then goes back to /account, which says what was
// done; an error is shown on the page instead, with the fields keep names
// filled in again.
func (p *Pages) change(done string, do func(r *http.Request, pr auth.Principal) (keep []string, err error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		pr, ok := p.signedIn(w, r)
		if !ok {
			return
		}
		if keep, err := do(r, pr); err != nil {
			p.showAccount(w, r, pr, err, nil, keep...)
			return
		}
		changed(w, r, done)
	}
}

// currentPassword is the current password a form gave in field, nil if
// the form has no such field (the user has no password).
func currentPassword(r *http.Request, field string) *string {
	if v, ok := r.PostForm[field]; ok {
		return &v[0]
	}
	return nil
}

func (p *Pages) changePassword(r *http.Request, pr auth.Principal) ([]string, error) {
	pw := r.PostForm.Get("new_password")
	_, err := p.d.Auth.UpdateUser(r.Context(), pr, auth.UserUpdate{Password: &pw, CurrentPassword: currentPassword(r, "current_password")})
	return nil, pageField(err, "password", "new_password")
}

func (p *Pages) changeEmail(r *http.Request, pr auth.Principal) ([]string, error) {
	email := r.PostForm.Get("new_email")
	_, err := p.d.Auth.UpdateUser(r.Context(), pr, auth.UserUpdate{Email: &email, CurrentPassword: currentPassword(r, "email_password")})
	return []string{"new_email", email}, pageField(pageField(err, "current_password", "email_password"), "email", "new_email")
}

func (p *Pages) endSession(r *http.Request, pr auth.Principal) ([]string, error) {
	return nil, p.d.Auth.RevokeSession(r.Context(), pr, r.PostForm.Get("id"))
}

func (p *Pages) endOthers(r *http.Request, pr auth.Principal) ([]string, error) {
	return nil, p.d.Auth.Logout(r.Context(), pr, auth.ScopeOthers)
}

// agentName names a browser or app by its User-Agent, as a person would:
// "Chrome on Linux". It is a label, never a decision.
func agentName(ua string) string {
	if ua == "" {
		return ""
	}
	browser := ""
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"},
		{"Chrome/", "Chrome"}, {"Chromium/", "Chromium"}, {"Safari/", "Safari"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	system := ""
	for _, o := range []struct{ token, name string }{
		{"Android", "Android"}, {"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"Windows", "Windows"},
		{"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			system = o.name
			break
		}
	}
	switch {
	case browser != "" && system != "":
		return browser + " · " + system
	case browser != "":
		return browser
	}
	// Not a browser: an app or a tool; its own product token is the
	// best name, cut short.
	name, _, _ := strings.Cut(ua, " ")
	return truncateRunes(name, 40)
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
