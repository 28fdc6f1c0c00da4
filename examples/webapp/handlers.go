package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// homeView is what the home page shows.
type homeView struct {
	CSRF      string
	SignedIn  bool
	Email     string
	ExpiresIn string // life left in the access token
	Notice    string
	Warning   string
	LatchURL  string
}

// errorView is what the error page shows.
type errorView struct {
	Title       string
	Code        string // an OAuth or latch error code, if any
	Description string
	Hint        string
}

// handleHome shows who is signed in, asking latch each time: a session
// ended elsewhere shows here at once.
func (a *app) handleHome() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := a.ensureSession(w, r)
		s.mu.Lock()
		defer s.mu.Unlock()
		v := homeView{CSRF: s.csrf, Notice: s.notice, LatchURL: a.latch.base}
		s.notice = ""
		if s.tokens != nil {
			u, err := a.currentUser(r.Context(), s)
			switch {
			case errors.Is(err, errSignedOut):
				v.Notice = "Your session at latch has ended (signed out elsewhere, or expired). Sign in again."
			case err != nil:
				v.SignedIn, v.Warning = true, "latch did not answer: "+err.Error()
			default:
				v.SignedIn, v.Email = true, u.Email
			}
		}
		if s.tokens != nil {
			v.ExpiresIn = s.tokens.expiry.Sub(a.cfg.now()).Round(time.Second).String()
		}
		a.render(w, http.StatusOK, "home.html", v)
	})
}

// handleLogin starts a sign-in (or, with screen=signup, a sign-up): it
// makes a PKCE verifier and a state, keeps them server side under a
// short-lived cookie, and sends the browser to latch's authorize endpoint.
func (a *app) handleLogin() http.Handler {
	return a.form(func(w http.ResponseWriter, r *http.Request, _ *session) {
		m := a.latch.discover(r.Context())
		p := pending{
			verifier: newVerifier(), state: randomString(16),
			issuer: m.Issuer, issRequired: m.IssParameterSupported, tokenEndpoint: m.TokenEndpoint,
		}
		a.setCookie(w, loginCookie, a.pending.put(p), int(loginTTL.Seconds()))
		q := url.Values{
			"response_type":         {"code"},
			"redirect_uri":          {a.cfg.redirectURI},
			"state":                 {p.state},
			"code_challenge":        {challengeS256(p.verifier)},
			"code_challenge_method": {"S256"},
		}
		if r.PostFormValue("screen") == "signup" {
			q.Set("screen", "signup")
		}
		http.Redirect(w, r, withQuery(m.AuthorizationEndpoint, q), http.StatusSeeOther)
	})
}

// withQuery adds q to endpoint's own query, if it has one.
func withQuery(endpoint string, q url.Values) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return endpoint + "?" + q.Encode()
	}
	all := u.Query()
	for k, v := range q {
		all[k] = v
	}
	u.RawQuery = all.Encode()
	return u.String()
}

// handleRefresh ("Refresh now") trades the refresh token for new tokens
// on demand, to show rotation at work; the app does the same by itself
// when the access token nears its expiry.
func (a *app) handleRefresh() http.Handler {
	return a.form(func(w http.ResponseWriter, r *http.Request, s *session) {
		s.mu.Lock()
		defer s.mu.Unlock()
		switch err := a.refreshNow(r, s); {
		case errors.Is(err, errSignedOut):
			s.notice = "latch refused the refresh token: that session has ended. Sign in again."
		case err != nil:
			s.notice = "The refresh failed: " + err.Error()
		default:
			s.notice = "Refreshed: a new access token, and the refresh token rotated."
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
}

func (a *app) refreshNow(r *http.Request, s *session) error {
	if s.tokens == nil {
		return errSignedOut
	}
	return a.refresh(r.Context(), s)
}

// handleLogout ends the session at latch (POST /v1/logout, scope local),
// then forgets it here and starts a fresh, signed-out session.
func (a *app) handleLogout() http.Handler {
	return a.form(func(w http.ResponseWriter, r *http.Request, s *session) {
		s.mu.Lock()
		notice := "Signed out of this app. latch's own sign-in page still remembers you, so the next Sign in may not ask for a password; sign out at latch to end that too."
		if s.tokens != nil {
			access, err := a.accessToken(r.Context(), s)
			if err == nil {
				err = a.latch.logout(r.Context(), access)
			}
			if err != nil && !errors.Is(err, errSignedOut) {
				a.cfg.log.Warn("logout at latch", "err", err)
				notice = fmt.Sprintf("Signed out of this app, but latch could not be told (%v).", err)
			}
			s.tokens = nil
		}
		s.mu.Unlock()
		a.replaceSession(w, r, &session{notice: notice})
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
}

// replaceSession forgets this browser's session and gives it next under
// a new id: at every sign-in and sign-out, so that an id learnt before
// (session fixation) is worth nothing after.
func (a *app) replaceSession(w http.ResponseWriter, r *http.Request, next *session) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		a.sessions.remove(c.Value)
	}
	next.csrf = randomString(32)
	a.setCookie(w, sessionCookie, a.sessions.put(next), 0)
}

// formExpired answers a POST whose CSRF token is missing or wrong.
func (a *app) formExpired(w http.ResponseWriter) {
	a.render(w, http.StatusForbidden, "error.html", errorView{
		Title:       "This form has expired",
		Description: "The form did not carry this browser's token: it is old, or it came from another site.",
		Hint:        "Go back to the home page and press the button again.",
	})
}
