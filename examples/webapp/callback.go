package main

import (
	"errors"
	"net/http"
	"net/url"
)

// handleCallback is where latch sends the browser back, with either
// ?code=…&state=…&iss=… or ?error=…&error_description=…&state=…&iss=….
// The checks run in this order: the sign-in must be one this browser
// started (pending cookie), state and iss must match it, and only then
// is an error shown or the code redeemed.
func (a *app) handleCallback() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := a.takePending(w, r)
		if !ok {
			a.callbackFailed(w, http.StatusBadRequest, "", "This browser has no sign-in in progress, or it took longer than 10 minutes.")
			return
		}
		q := r.URL.Query()
		if err := checkState(q.Get("state"), p.state); err != nil {
			a.callbackFailed(w, http.StatusBadRequest, "", err.Error())
			return
		}
		if err := checkIssuer(q.Get("iss"), p.issuer, p.issRequired); err != nil {
			a.callbackFailed(w, http.StatusBadRequest, "", err.Error())
			return
		}
		if code := q.Get("error"); code != "" {
			a.callbackFailed(w, http.StatusBadRequest, code, q.Get("error_description"))
			return
		}
		if q.Get("code") == "" {
			a.callbackFailed(w, http.StatusBadRequest, "", "The callback has neither a code nor an error.")
			return
		}
		t, err := a.latch.token(r.Context(), p.tokenEndpoint, url.Values{
			"grant_type":    {"authorization_code"},
			"code":          {q.Get("code")},
			"redirect_uri":  {a.cfg.redirectURI},
			"code_verifier": {p.verifier},
		})
		if err != nil {
			a.exchangeFailed(w, err)
			return
		}
		s := &session{}
		a.keep(s, t)
		a.replaceSession(w, r, s)
		// A redirect to "/" takes the code out of the address bar and the
		// history; it was single use anyway.
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
}

// takePending removes and returns the sign-in named by the login cookie,
// and deletes the cookie: a callback is accepted once.
func (a *app) takePending(w http.ResponseWriter, r *http.Request) (pending, bool) {
	c, err := r.Cookie(loginCookie)
	if err != nil {
		return pending{}, false
	}
	a.setCookie(w, loginCookie, "", -1)
	return a.pending.take(c.Value)
}

// exchangeFailed shows why latch would not trade the code for tokens.
func (a *app) exchangeFailed(w http.ResponseWriter, err error) {
	var ae *apiError
	if errors.As(err, &ae) {
		a.callbackFailed(w, http.StatusBadGateway, ae.Code, ae.Description)
		return
	}
	a.cfg.log.Warn("code exchange", "err", err)
	a.callbackFailed(w, http.StatusBadGateway, "", "latch could not be reached to finish the sign-in: "+err.Error())
}

// hint explains the errors a person meets most (RFC 6749 §4.1.2.1 and
// OpenID Connect's login_required).
func hint(code string) string {
	switch code {
	case "access_denied":
		return "The sign-in was cancelled or refused."
	case "login_required":
		return "latch has no signed-in session for this browser, and the app asked it not to show a sign-in page (prompt=none)."
	case "temporarily_unavailable":
		return "latch could not finish just now; try again in a moment."
	case "invalid_grant":
		return "The code was used already, expired (it lives 60 seconds) or does not match this sign-in's verifier."
	case "invalid_request":
		return "latch refused the request; is this app's redirect URI listed in LATCH_REDIRECT_URLS?"
	}
	return ""
}

// callbackFailed shows a failed sign-in. The description may come from
// the URL, so it is shown as text only (html/template escapes it), and
// only after state proved the callback belongs to this browser.
func (a *app) callbackFailed(w http.ResponseWriter, status int, code, description string) {
	a.render(w, status, "error.html", errorView{
		Title: "Sign-in did not complete", Code: code, Description: description, Hint: hint(code),
	})
}
