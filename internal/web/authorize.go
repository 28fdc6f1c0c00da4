package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// GET /v1/authorize: the start of the authorization-code flow (RFC 6749
// §4.1, PKCE S256 only, RFC 9207's iss in every answer). The redirect URI
// is checked before anything else; a bad one gets an error page, never a
// redirect, so latch can never be made to send a browser anywhere it was
// not told about. Nothing is stored until a signed-in browser asks for a
// code: a request with no session only shows the sign-in page, and the
// request itself travels in that page's continuation.

// authRequest is a checked authorization request.
type authRequest struct {
	redirect  string
	state     string
	challenge string
	prompt    string
	maxAge    int // -1: none given
	hint      string
	screen    string
	provider  string
}

// oauthError is an error answered to the application (RFC 6749
// §4.1.2.1).
type oauthError struct{ code, description string }

func (p *Pages) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect := q.Get("redirect_uri")
	if len(q["redirect_uri"]) != 1 || !AllowedRedirect(p.d.RedirectURLs, redirect) {
		v := p.view(w, r, "message", "authorize.error_title")
		v.Data = message{Text: v.T("authorize.bad_redirect", "product", p.d.Theme.Product)}
		p.render(w, r, http.StatusBadRequest, v)
		return
	}
	req, oerr := parseAuthRequest(q)
	if oerr != nil {
		p.answer(w, r, redirect, q.Get("state"), url.Values{"error": {oerr.code}, "error_description": {oerr.description}})
		return
	}
	if req.provider != "" {
		if _, ok := p.d.Auth.Provider(req.provider); !ok {
			p.answer(w, r, redirect, req.state, url.Values{"error": {"invalid_request"}, "error_description": {"no sign-in provider of that name"}})
			return
		}
		if req.prompt != "none" {
			// The application chose the provider: the person signs in
			// there, then comes back to this request (without it).
			p.startFlow(w, r, req.provider, auth.FlowIntent{Continue: continuation(req)}, false)
			return
		}
	}
	pr, signedIn := p.principal(r)
	fresh := signedIn && (req.maxAge < 0 || p.d.Auth.SignedInWithin(pr, time.Duration(req.maxAge)*time.Second))
	switch {
	case signedIn && fresh && req.prompt != "login":
		code, err := p.d.Auth.IssueCode(r.Context(), pr, req.redirect, req.challenge)
		if err != nil {
			p.logFailure(r, http.StatusInternalServerError, err)
			p.answer(w, r, redirect, req.state, url.Values{"error": {"temporarily_unavailable"}, "error_description": {"the code could not be issued; try again"}})
			return
		}
		p.answer(w, r, redirect, req.state, url.Values{"code": {code}})
	case req.prompt == "none":
		p.answer(w, r, redirect, req.state, url.Values{"error": {"login_required"}, "error_description": {"the person is not signed in"}})
	default:
		p.toSignIn(w, r, req)
	}
}

// toSignIn sends the browser to the sign-in (or sign-up) page, which
// comes back to this request once the person is signed in. The
// continuation leaves out prompt and max_age, which the new sign-in
// satisfies, so it cannot loop.
func (p *Pages) toSignIn(w http.ResponseWriter, r *http.Request, req authRequest) {
	to := url.Values{"continue": {continuation(req)}}
	if req.hint != "" {
		to.Set("login_hint", req.hint)
	}
	page := "/login?"
	if req.screen == "signup" && !p.d.SignupOff {
		page = "/signup?"
	}
	http.Redirect(w, r, page+to.Encode(), http.StatusSeeOther)
}

// continuation is the request to come back to once signed in: without
// prompt, max_age and provider, which the new sign-in satisfies.
func continuation(req authRequest) string {
	back := url.Values{"redirect_uri": {req.redirect}, "code_challenge": {req.challenge}, "code_challenge_method": {"S256"}, "response_type": {"code"}}
	if req.state != "" {
		back.Set("state", req.state)
	}
	return "/v1/authorize?" + back.Encode()
}

// answer sends the browser back to the application with params, the
// state and latch's issuer (RFC 9207).
func (p *Pages) answer(w http.ResponseWriter, r *http.Request, redirect, state string, params url.Values) {
	u, _ := url.Parse(redirect) // checked by AllowedRedirect
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	if state != "" {
		q.Set("state", state)
	}
	q.Set("iss", p.issuer)
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// parseAuthRequest checks everything but the redirect URI.
func parseAuthRequest(q url.Values) (authRequest, *oauthError) {
	for _, k := range []string{"response_type", "state", "code_challenge", "code_challenge_method", "prompt", "max_age", "login_hint", "screen", "provider"} {
		if len(q[k]) > 1 {
			return authRequest{}, &oauthError{"invalid_request", k + " is given more than once"}
		}
	}
	req := authRequest{redirect: q.Get("redirect_uri"), state: q.Get("state"), prompt: q.Get("prompt"), hint: q.Get("login_hint"), screen: q.Get("screen"), provider: q.Get("provider"), maxAge: -1}
	switch {
	case len(req.state) > 1024:
		req.state = ""
		return req, &oauthError{"invalid_request", "state is longer than 1024 characters"}
	case q.Get("response_type") != "" && q.Get("response_type") != "code":
		return req, &oauthError{"unsupported_response_type", "only response_type=code is supported"}
	case q.Get("code_challenge") == "":
		return req, &oauthError{"invalid_request", "code_challenge is required (PKCE, S256)"}
	case q.Get("code_challenge_method") != "S256":
		return req, &oauthError{"invalid_request", "code_challenge_method must be S256"}
	case !auth.WellFormedChallenge(q.Get("code_challenge")):
		return req, &oauthError{"invalid_request", "code_challenge must be the base64url SHA-256 of the verifier (43 characters)"}
	case req.prompt != "" && req.prompt != "none" && req.prompt != "login":
		return req, &oauthError{"invalid_request", `prompt must be "none" or "login"`}
	case req.screen != "" && req.screen != "signup" && req.screen != "login":
		return req, &oauthError{"invalid_request", `screen must be "signup" or "login"`}
	case len(req.hint) > 254:
		return req, &oauthError{"invalid_request", "login_hint is too long"}
	}
	req.challenge = q.Get("code_challenge")
	if s := q.Get("max_age"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return req, &oauthError{"invalid_request", "max_age must be a whole number of seconds"}
		}
		req.maxAge = n
	}
	return req, nil
}

// AllowedRedirect reports whether redirect is one of the allowed
// redirect URIs: equal as a string (RFC 9700 §2.1), except that an entry
// for a loopback IP literal with no port allows any port with the same
// scheme, host and path (RFC 8252 §7.3). Fragments are never allowed.
func AllowedRedirect(allowed []string, redirect string) bool {
	if redirect == "" || strings.Contains(redirect, "#") {
		return false
	}
	for _, a := range allowed {
		if a == redirect {
			return true
		}
	}
	u, err := url.Parse(redirect)
	if err != nil || u.Scheme != "http" || u.User != nil || !isLoopbackLiteral(u.Hostname()) || u.Port() == "" {
		return false
	}
	if _, err := strconv.ParseUint(u.Port(), 10, 16); err != nil {
		return false
	}
	portless := *u
	portless.Host = u.Hostname()
	if strings.Contains(portless.Host, ":") {
		portless.Host = "[" + portless.Host + "]"
	}
	want := portless.String()
	for _, a := range allowed {
		if a == want {
			return true
		}
	}
	return false
}
