package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/latchauth/latch/internal/apperr"
	"github.com/latchauth/latch/internal/auth"
)

// explain shows an error of the domain on a form page, in the page's
// language, next to the field it concerns when it concerns one, and
// returns the status the page answers with (the API's).
func (p *Pages) explain(r *http.Request, v *view, err error) int {
	ae := p.d.Answer(err)
	p.logFailure(r, ae.Status, err)
	switch {
	case ae.Code == apperr.CodeWeakPassword:
		field := v.passwordField()
		v.fail(field, v.T("error.weak_password"))
		if v.reasons == nil {
			v.reasons = map[string][]string{}
		}
		for _, rs := range ae.Reasons {
			v.reasons[field] = append(v.reasons[field], p.reason(v, rs))
		}
	case errors.Is(err, auth.ErrWrongPassword):
		field := "current_password"
		if v.values["new_email"] != "" {
			field = "email_password"
		} else if v.values["link"] != "" {
			field = "link_password"
		} else if v.values["factor"] != "" {
			field = "factor_password"
		}
		v.fail(field, v.T("error.wrong_current_password"))
	case errors.Is(err, auth.ErrInvalidCredentials):
		v.Alert = &alert{Kind: "error", Text: v.T("error.invalid_credentials")}
		v.Focus = "password"
	case errors.Is(err, auth.ErrEmailTaken):
		v.fail(v.emailField(), v.T("error.email_taken"))
	case ae.Code == apperr.CodeEmailNotVerified:
		v.Alert = &alert{Kind: "info", Text: v.T("error.email_not_verified")}
	case ae.Code == apperr.CodeLastSignInMethod:
		v.Alert = &alert{Kind: "error", Text: v.T("account.last_method")}
	case errors.Is(err, auth.ErrNeedAAL2):
		v.Alert = &alert{Kind: "error", Text: v.T("error.need_second_factor"), Link: signInAgain}
	case ae.Code == apperr.CodeInsufficientAuth:
		v.Alert = &alert{Kind: "error", Text: v.T("error.recent_signin"), Link: signInAgain}
	case ae.Code == apperr.CodeRateLimited:
		v.Alert = &alert{Kind: "error", Text: v.T("error.rate_limited", "wait", waitText(ae.RetryAfter))}
	case ae.Code == apperr.CodeInvalidRequest && ae.Field != "":
		field := ae.Field
		if field == "email" {
			field = v.emailField()
		}
		switch {
		case field == "email" || field == "new_email":
			v.fail(field, v.T("error.email"))
		case strings.Contains(field, "password"):
			v.fail(field, v.T("error.password_required"))
		case v.values[field] == "":
			v.fail(field, v.T("error.required"))
		default:
			v.fail(field, ae.Message)
		}
	case ae.Status == http.StatusServiceUnavailable:
		v.Alert = &alert{Kind: "error", Text: v.T("error.unavailable")}
	default:
		v.Alert = &alert{Kind: "error", Text: v.T("error.generic")}
	}
	return ae.Status
}

// signInAgain is the way out of a change that needs a fresher or
// stronger sign-in: signing in again (with the second step, when the
// account has one) and coming back to the account page.
var signInAgain = &link{"/login?continue=%2Faccount", "error.sign_in_again"}

// reason translates one of the password policy's reasons.
func (p *Pages) reason(v *view, r apperr.Reason) string {
	key := "reason." + r.Code
	if !v.Has(key) {
		return r.Message
	}
	return v.T(key, "min", strconv.Itoa(p.d.PasswordMin), "max", strconv.Itoa(p.d.PasswordMax))
}

// passwordField is the field a password error belongs to on this page.
func (v *view) passwordField() string {
	if v.name == "account" {
		return "new_password"
	}
	return "password"
}

func (v *view) emailField() string {
	if v.name == "account" {
		return "new_email"
	}
	return "email"
}

func waitText(d time.Duration) string {
	if d < time.Second {
		d = time.Second
	}
	return d.Round(time.Second).String()
}

// pageField moves an error about an API field to the page's field of
// another name (the account page has two password fields).
func pageField(err error, from, to string) error {
	var ae *apperr.Error
	if errors.As(err, &ae) && ae.Field == from {
		c := *ae
		c.Field = to
		return &c
	}
	return err
}
