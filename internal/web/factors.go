package web

import (
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/store"
)

// Second factors on the account page: the list, adding an authenticator
// app (its QR code, the key to type, a code to confirm) or a passkey,
// removing one, and recovery codes, shown once. Every change goes through
// auth, which asks for a recent sign-in or the password, and a sign-in
// with a second factor once the account has one.

// factorRow is one factor as the account page lists it.
type factorRow struct {
	auth.FactorInfo
	Label string // a catalog key naming its kind
}

// factorSection is the account page's part about second factors.
type factorSection struct {
	Factors  []factorRow
	Recovery *auth.FactorInfo // the recovery codes, if any
	Passkeys bool             // WebAuthn is on
	// NeedsPassword: a change asks for the password (the sign-in is not
	// recent).
	NeedsPassword bool
}

func (p *Pages) factorSection(r *http.Request, pr auth.Principal, hasPassword bool) (factorSection, error) {
	d := factorSection{Passkeys: p.d.Auth.PasskeysEnabled(), NeedsPassword: hasPassword && !p.d.Auth.SignedInWithin(pr, auth.RecentAuth)}
	list, err := p.d.Auth.ListFactors(r.Context(), pr)
	if err != nil {
		return d, err
	}
	for _, f := range list {
		switch f.Type {
		case store.FactorRecovery:
			d.Recovery = &f
		case store.FactorTOTP:
			d.Factors = append(d.Factors, factorRow{f, "factors.kind_totp"})
		default:
			label := "factors.kind_key"
			if f.Synced {
				label = "factors.kind_passkey"
			}
			d.Factors = append(d.Factors, factorRow{f, label})
		}
	}
	return d, nil
}

// signedInFactors is signedIn for the pages that change a factor: the
// principal and the account's factor section. It has answered when it
// reports false (the sign-in page, or the account page with the error).
func (p *Pages) signedInFactors(w http.ResponseWriter, r *http.Request) (auth.Principal, factorSection, bool) {
	pr, ok := p.signedIn(w, r)
	if !ok {
		return pr, factorSection{}, false
	}
	sec, err := p.factorSection(r, pr, pr.User.PasswordHash != "")
	if err != nil {
		p.showAccount(w, r, pr, err, nil)
		return pr, sec, false
	}
	return pr, sec, true
}

// factorPassword is the current password a factor form gave, "" if it
// has none (the sign-in is recent, or the user has no password).
func factorPassword(r *http.Request) string {
	if c := currentPassword(r, "factor_password"); c != nil {
		return *c
	}
	return ""
}

// enrolData is the Data of the pages that finish adding a factor.
type enrolData struct {
	ID, Name string
	// TOTP: the QR code (latch's own SVG), the key grouped for typing,
	// and the otpauth URI (a link that opens an app on a phone).
	QR     template.HTML
	Secret string
	URI    template.URL
	// WebAuthn: the creation options, JSON.
	Options string
}

func (p *Pages) enrolView(w http.ResponseWriter, r *http.Request, e auth.Enrolment) *view {
	d := enrolData{ID: e.Factor.ID, Name: e.Factor.Name}
	name := "factor-webauthn"
	if e.Factor.Type == store.FactorTOTP {
		name = "factor-totp"
		// Both are latch's own output: the SVG of qr.SVG, which escapes
		// what it writes, and an otpauth: URI.
		d.QR, d.Secret, d.URI = template.HTML(e.QRSVG), e.Secret, template.URL(e.OTPAuthURI)
	} else {
		d.Options = string(e.Options)
	}
	v := p.view(w, r, name, "factors."+strings.ReplaceAll(name, "-", "_")+"_title")
	if name == "factor-totp" {
		v.Focus = "code"
	}
	v.Data = d
	return v
}

// addFactor starts adding an authenticator app or a passkey and shows the
// page that finishes it.
func (p *Pages) addFactor(w http.ResponseWriter, r *http.Request) {
	pr, ok := p.signedIn(w, r)
	if !ok {
		return
	}
	typ, name := r.PostForm.Get("type"), strings.TrimSpace(r.PostForm.Get("name"))
	if name == "" && typ == string(store.FactorTOTP) {
		// Named in the person's language, as the page lists it.
		name = p.d.Catalog.Match(r.Header.Get("Accept-Language")).T("factors.kind_totp")
	}
	e, err := p.d.Auth.EnrolFactor(r.Context(), pr, typ, name, factorPassword(r))
	if err != nil {
		p.showAccount(w, r, pr, pageField(err, "current_password", "factor_password"), nil, "factor", "1")
		return
	}
	p.render(w, r, http.StatusOK, p.enrolView(w, r, e))
}

// verifyFactor finishes adding a factor with a code from the app or the
// browser's answer; the first factor comes with recovery codes.
func (p *Pages) verifyFactor(w http.ResponseWriter, r *http.Request) {
	pr, ok := p.signedIn(w, r)
	if !ok {
		return
	}
	id := r.PostForm.Get("id")
	var cred json.RawMessage
	if raw := r.PostForm.Get("credential"); raw != "" {
		cred = json.RawMessage(`{}`)
		if json.Valid([]byte(raw)) {
			cred = json.RawMessage(raw)
		}
	}
	res, err := p.d.Auth.VerifyFactor(r.Context(), pr, id, r.PostForm.Get("code"), cred)
	if err == nil {
		if len(res.RecoveryCodes) > 0 {
			p.showCodes(w, r, res.RecoveryCodes, true)
			return
		}
		changed(w, r, "factor_added")
		return
	}
	e, perr := p.d.Auth.PendingEnrolment(r.Context(), pr, id)
	if perr != nil {
		// Gone (expired, or finished in another tab): start again.
		p.showAccount(w, r, pr, nil, []string{"factors.expired"})
		return
	}
	v := p.enrolView(w, r, e)
	status := http.StatusBadRequest
	switch {
	case errors.Is(err, auth.ErrInvalidMFA) && e.Factor.Type == store.FactorTOTP:
		v.fail("code", v.T("mfa.wrong_code"))
	case errors.Is(err, auth.ErrInvalidMFA):
		v.Alert = &alert{Kind: "error", Text: v.T("webauthn.failed")}
	case p.d.Answer(err).Field == "code":
		v.fail("code", v.T("error.required"))
	default:
		status = p.explain(r, v, err)
	}
	p.render(w, r, status, v)
}

// removeData is the Data of the page that confirms a removal.
type removeData struct {
	ID, Name      string
	Last          bool // the last app or key: two-step verification ends
	NeedsPassword bool
}

// removeFactor asks to confirm the removal of one of the person's
// factors, then removes it.
func (p *Pages) removeFactor(w http.ResponseWriter, r *http.Request) {
	pr, sec, ok := p.signedInFactors(w, r)
	if !ok {
		return
	}
	id := r.PostForm.Get("id")
	d := removeData{ID: id, NeedsPassword: sec.NeedsPassword, Last: len(sec.Factors) == 1}
	for _, f := range sec.Factors {
		if f.ID == id {
			d.Name = f.Name
		}
	}
	if d.Name == "" {
		p.showAccount(w, r, pr, auth.ErrFactorNotFound, nil)
		return
	}
	v := p.view(w, r, "factor-remove", "factors.remove_page")
	v.Data = d
	if r.PostForm.Get("confirm") == "" {
		p.render(w, r, http.StatusOK, v)
		return
	}
	if err := p.d.Auth.RemoveFactor(r.Context(), pr, id, factorPassword(r)); err != nil {
		v.set("factor", "1")
		p.render(w, r, p.explain(r, v, pageField(err, "current_password", "factor_password")), v)
		return
	}
	changed(w, r, "factor_removed")
}

// newCodes replaces the recovery codes and shows the new ones, once.
// When the person still has codes left, it first asks to confirm: the
// old ones stop working.
func (p *Pages) newCodes(w http.ResponseWriter, r *http.Request) {
	pr, sec, ok := p.signedInFactors(w, r)
	if !ok {
		return
	}
	confirm := sec.Recovery != nil && sec.Recovery.Remaining > 0
	v := p.view(w, r, "recovery-new", "factors.new_codes_title")
	v.Data = struct{ NeedsPassword bool }{sec.NeedsPassword}
	if confirm && r.PostForm.Get("confirm") == "" {
		p.render(w, r, http.StatusOK, v)
		return
	}
	codes, err := p.d.Auth.NewRecoveryCodes(r.Context(), pr, factorPassword(r))
	if err != nil {
		err = pageField(err, "current_password", "factor_password")
		if !confirm {
			p.showAccount(w, r, pr, err, nil, "factor", "1")
			return
		}
		v.set("factor", "1")
		p.render(w, r, p.explain(r, v, err), v)
		return
	}
	p.showCodes(w, r, codes, false)
}

// codesData is the Data of the page that shows recovery codes once.
type codesData struct {
	Codes []string
	// First: they came with the first factor.
	First bool
	// Download is the codes as a text file, for the download link (a
	// data: URL, so that saving them needs no script and no request).
	Download template.URL
}

func (p *Pages) showCodes(w http.ResponseWriter, r *http.Request, codes []string, first bool) {
	v := p.view(w, r, "recovery-codes", "factors.codes_title")
	text := v.T("factors.codes_file", "product", p.d.Theme.Product) + "\n\n" + strings.Join(codes, "\n") + "\n"
	v.Data = codesData{Codes: codes, First: first,
		// Codes are [0-9a-z-]; PathEscape makes the rest (the sentence,
		// new lines) safe in the URL.
		Download: template.URL("data:text/plain;charset=utf-8," + url.PathEscape(text))}
	p.render(w, r, http.StatusOK, v)
}
