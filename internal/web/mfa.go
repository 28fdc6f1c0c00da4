package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/latchauth/latch/internal/apperr"
	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/store"
)

// The second step of a sign-in on the pages, and a passkey as the first.
// A sign-in of an account with a second factor ends, in auth, in
// *auth.MFARequired rather than a session: the page keeps its mfa_token
// in a short cookie and asks for the factor at /login/mfa; only then does
// the browser get its session, and an authorization request waiting in
// "continue" its code. A passkey sign-in needs no email: the sign-in
// page's script asks /login/passkey/options for a challenge when it
// needs one (so a page left open does not hold a stale one), and the
// browser's answer comes to /login/passkey. A security key as the second
// step asks /login/mfa/options the same way.

// toSecondStep sends the browser to the second step when err is the
// domain's *auth.MFARequired, and reports whether it did. next is the
// checked continuation.
func (p *Pages) toSecondStep(w http.ResponseWriter, r *http.Request, err error, next string) bool {
	var m *auth.MFARequired
	if !errors.As(err, &m) {
		return false
	}
	p.setCookie(w, p.cookies.mfa, m.Token, auth.MFATTL)
	to := "/login/mfa"
	if next != "" {
		to += "?" + url.Values{"continue": {next}}.Encode()
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
	return true
}

// mfaData is the Data of the second step's page.
type mfaData struct {
	// TOTP is the authenticator app asked for first; Keys the security
	// keys and passkeys (their request options come from
	// /login/mfa/options); Recovery: the person has recovery codes left.
	TOTP     *auth.FactorInfo
	Keys     []auth.FactorInfo
	Recovery bool
	// Use is the way the page shows first: "totp", "key" or "recovery".
	Use string
}

func (p *Pages) mfaView(w http.ResponseWriter, r *http.Request, tok string) (*view, bool) {
	v := p.view(w, r, "mfa", "mfa.title")
	v.withContinue(checkContinue(r.FormValue("continue")))
	factors, err := p.d.Auth.PendingFactors(r.Context(), tok)
	if err != nil {
		return v, false
	}
	var d mfaData
	for _, f := range factors {
		switch f.Type {
		case store.FactorTOTP:
			if d.TOTP == nil {
				d.TOTP = &f
			}
		case store.FactorWebAuthn:
			if p.d.Auth.PasskeysEnabled() {
				d.Keys = append(d.Keys, f)
			}
		case store.FactorRecovery:
			d.Recovery = f.Remaining > 0
		}
	}
	switch {
	case r.FormValue("use") == "recovery" && d.Recovery:
		d.Use = "recovery"
	case d.TOTP != nil && r.FormValue("use") != "key":
		d.Use = "totp"
	case len(d.Keys) > 0:
		d.Use = "key"
	case d.Recovery:
		d.Use = "recovery"
	default:
		return v, false // nothing can finish it: start again
	}
	if d.Use == "totp" {
		v.Focus = "code"
	} else if d.Use == "recovery" {
		v.Focus = "recovery_code"
	}
	v.Data = d
	return v, true
}

// mfaToken is the browser's waiting second step, "" for none.
func (p *Pages) mfaToken(r *http.Request) string {
	if c, err := r.Cookie(p.cookies.mfa); err == nil {
		return c.Value
	}
	return ""
}

// startOver sends the person back to sign in, saying why: the second
// step waited too long or was tried too often.
func (p *Pages) startOver(w http.ResponseWriter, r *http.Request) {
	p.setCookie(w, p.cookies.mfa, "", -1)
	v := p.loginView(w, r)
	v.Alert = &alert{Kind: "error", Text: v.T("mfa.start_over")}
	p.render(w, r, http.StatusBadRequest, v)
}

func (p *Pages) handleMFAPage(w http.ResponseWriter, r *http.Request) {
	v, ok := p.mfaView(w, r, p.mfaToken(r))
	if !ok {
		p.startOver(w, r)
		return
	}
	p.render(w, r, http.StatusOK, v)
}

// handleMFA finishes the second step with the code, the security key's
// answer or a recovery code the form carries.
func (p *Pages) handleMFA(w http.ResponseWriter, r *http.Request) {
	tok := p.mfaToken(r)
	a := auth.MFAAnswer{Token: tok, FactorID: r.PostForm.Get("factor_id")}
	field, wrong := "code", "mfa.wrong_code"
	switch {
	case r.PostForm.Get("use") == "recovery" || r.PostForm.Get("recovery_code") != "":
		field, wrong = "recovery_code", "mfa.wrong_recovery_code"
		a.RecoveryCode, a.FactorID = strings.TrimSpace(r.PostForm.Get("recovery_code")), ""
	case r.PostForm.Get("use") == "key" || r.PostForm.Get("credential") != "":
		field, wrong = "key", "mfa.wrong_key"
		a.Credential = json.RawMessage(`{}`)
		if raw := r.PostForm.Get("credential"); json.Valid([]byte(raw)) {
			a.Credential = json.RawMessage(raw)
		}
	default:
		a.Code = strings.TrimSpace(r.PostForm.Get("code"))
	}
	// An empty field is answered here: it is not a wrong answer, and
	// must not spend one of the ticket's attempts.
	empty := field != "key" && a.Code == "" && a.RecoveryCode == ""
	var err error
	if !empty {
		var tr auth.TokenResponse
		tr, err = p.d.Auth.FinishMFA(r.Context(), a, requester(r.Context()))
		if err == nil {
			p.setCookie(w, p.cookies.mfa, "", -1)
			p.startSession(w, r, tr)
			p.afterSignIn(w, r, next(r))
			return
		}
		if tok == "" || errors.Is(err, auth.ErrInvalidMFAToken) {
			p.startOver(w, r)
			return
		}
	}
	v, ok := p.mfaView(w, r, tok)
	if !ok {
		p.startOver(w, r)
		return
	}
	status := http.StatusBadRequest
	switch {
	case empty:
		v.fail(field, v.T("error.required"))
	case errors.Is(err, auth.ErrInvalidMFA), p.d.Answer(err).Code == apperr.CodeInvalidRequest:
		v.fail(field, v.T(wrong))
	default:
		status = p.explain(r, v, err)
	}
	p.render(w, r, status, v)
}

// handlePasskeyOptions gives the sign-in page's script a fresh passkey
// challenge: {challenge_id, options}. Asking for one stores nothing.
func (p *Pages) handlePasskeyOptions(w http.ResponseWriter, r *http.Request) {
	c, err := p.d.Auth.NewPasskeyChallenge(r.Context())
	if err != nil {
		p.optionsFailed(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		ChallengeID string          `json:"challenge_id"`
		Options     json.RawMessage `json:"options"`
	}{c.ID, c.Options})
}

// handleMFAOptions gives the second step's script the request options of
// one of the person's security keys: {options}. The challenge comes from
// the waiting sign-in's ticket, and dies with it.
func (p *Pages) handleMFAOptions(w http.ResponseWriter, r *http.Request) {
	opts, err := p.d.Auth.FactorChallenge(r.Context(), p.mfaToken(r), r.PostForm.Get("factor_id"))
	if err != nil {
		p.optionsFailed(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Options json.RawMessage `json:"options"`
	}{opts})
}

// optionsFailed answers a script's request for WebAuthn options that
// could not be met: {message}, a sentence for the person, with the
// status the API would give. (Not "error": the address limiter in front
// answers 429 with the API's {error, error_description}, a code the
// script must not show.)
func (p *Pages) optionsFailed(w http.ResponseWriter, r *http.Request, err error) {
	ae := p.d.Answer(err)
	p.logFailure(r, ae.Status, err)
	lang := p.d.Catalog.Match(r.Header.Get("Accept-Language"))
	text := lang.T("webauthn.failed")
	switch {
	case errors.Is(err, auth.ErrInvalidMFAToken):
		text = lang.T("mfa.start_over")
	case ae.Code == apperr.CodeRateLimited:
		text = lang.T("error.rate_limited", "wait", waitText(ae.RetryAfter))
	case ae.Status == http.StatusServiceUnavailable:
		text = lang.T("error.unavailable")
	}
	writeJSON(w, ae.Status, struct {
		Message string `json:"message"`
	}{text})
}

// writeJSON answers a page's script.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(b) // the status is sent; an error now is a broken connection
}

// handlePasskey signs in with the passkey answer the sign-in page posts.
func (p *Pages) handlePasskey(w http.ResponseWriter, r *http.Request) {
	cred := r.PostForm.Get("credential")
	if !json.Valid([]byte(cred)) {
		cred = "{}"
	}
	tr, err := p.d.Auth.PasskeySignIn(r.Context(), r.PostForm.Get("challenge_id"), json.RawMessage(cred), requester(r.Context()))
	if err == nil {
		p.startSession(w, r, tr)
		p.afterSignIn(w, r, next(r))
		return
	}
	if p.toSecondStep(w, r, err, checkContinue(r.PostForm.Get("continue"))) {
		return
	}
	v := p.loginView(w, r)
	status := http.StatusBadRequest
	if errors.Is(err, auth.ErrInvalidPasskey) || p.d.Answer(err).Code == apperr.CodeInvalidRequest {
		v.Alert = &alert{Kind: "error", Text: v.T("passkey.failed")}
	} else {
		status = p.explain(r, v, err)
	}
	p.render(w, r, status, v)
}
