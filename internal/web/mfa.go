package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"

	"github.com/latchauth/latch/internal/apperr"
	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/store"
)

// The second step of a sign-in on the pages, and a passkey as the first.
// A sign-in of an account with a second factor ends, in auth, in
// *auth.MFARequired rather than a session: the page keeps its mfa_token
// in a short cookie and asks for the factor at /login/mfa; only then does
// the browser get its session, and an authorization request waiting in
// "continue" its code. A passkey sign-in needs no email: the sign-in page
// carries a challenge, and the browser's answer comes to /login/passkey.

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
	// keys and passkeys, each with its request options; Recovery: the
	// person has recovery codes left.
	TOTP     *auth.FactorInfo
	Keys     []keyChallenge
	Recovery bool
	// Use is the way the page shows first: "totp", "key" or "recovery".
	Use string
}

// keyChallenge is a security key and the options that ask it.
type keyChallenge struct {
	ID, Name string
	Options  string // WebAuthn request options, JSON
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
				f := f
				d.TOTP = &f
			}
		case store.FactorWebAuthn:
			opts, err := p.d.Auth.FactorChallenge(r.Context(), tok, f.ID)
			if err == nil {
				d.Keys = append(d.Keys, keyChallenge{ID: f.ID, Name: f.Name, Options: string(opts)})
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
	v.Alert = &alert{"error", v.T("mfa.start_over")}
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
	switch {
	case r.PostForm.Get("recovery_code") != "" || r.PostForm.Get("use") == "recovery":
		a.RecoveryCode, a.FactorID = r.PostForm.Get("recovery_code"), ""
		if a.RecoveryCode == "" {
			a.RecoveryCode = " " // "required" below, on the field
		}
	case r.PostForm.Get("credential") != "":
		if raw := r.PostForm.Get("credential"); json.Valid([]byte(raw)) {
			a.Credential = json.RawMessage(raw)
		} else {
			a.Credential = json.RawMessage(`{}`)
		}
	default:
		a.Code = r.PostForm.Get("code")
	}
	tr, err := p.d.Auth.FinishMFA(r.Context(), a, requester(r.Context()))
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
	v, ok := p.mfaView(w, r, tok)
	if !ok {
		p.startOver(w, r)
		return
	}
	status := http.StatusBadRequest
	field := "code"
	if d := v.Data.(mfaData); d.Use == "recovery" {
		field = "recovery_code"
	} else if d.Use == "key" {
		field = "key"
	}
	ae := p.d.Answer(err)
	switch {
	case errors.Is(err, auth.ErrInvalidMFA), ae.Code == apperr.CodeInvalidRequest:
		v.fail(field, v.T("mfa.wrong_"+field))
	default:
		status = p.explain(r, v, err)
	}
	p.render(w, r, status, v)
}

// passkeyData is what the sign-in page needs to offer a passkey.
type passkeyData struct {
	ChallengeID, Options string
}

// passkeyOffer is a fresh passkey challenge for the sign-in page, or nil
// when passkeys are off. Asking for one stores nothing.
func (p *Pages) passkeyOffer(r *http.Request) *passkeyData {
	if !p.d.Auth.PasskeysEnabled() {
		return nil
	}
	c, err := p.d.Auth.NewPasskeyChallenge(r.Context())
	if err != nil {
		p.d.Log.Warn("passkey challenge", "error", err)
		return nil
	}
	return &passkeyData{ChallengeID: c.ID, Options: string(c.Options)}
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
		v.Alert = &alert{"error", v.T("passkey.failed")}
	} else {
		status = p.explain(r, v, err)
	}
	p.render(w, r, status, v)
}
