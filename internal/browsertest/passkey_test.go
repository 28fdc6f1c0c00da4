package browsertest

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/webauthn"
)

// Passkeys and security keys in a real browser, against Chromium's
// virtual authenticator (CTAP2, resident keys, user verification) on
// http://localhost: browsers refuse an IP address as a relying-party id.
// Every attestation and assertion is the browser's own; nothing is
// stubbed on latch's side.

// authenticator gives the person's browser a virtual platform
// authenticator that keeps passkeys and verifies its user.
func (p *person) authenticator() {
	p.t.Helper()
	off := false
	call(p, "enable WebAuthn", webauthn.Enable, webauthn.EnableParams{EnableUI: &off})
	call(p, "add a virtual authenticator", webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
		Protocol:                    webauthn.AuthenticatorProtocolCtap2,
		Ctap2version:                webauthn.Ctap2versionCtap21,
		Transport:                   webauthn.AuthenticatorTransportInternal,
		HasResidentKey:              true,
		HasUserVerification:         true,
		IsUserVerified:              true,
		AutomaticPresenceSimulation: true, // Go's zero value would leave every ceremony waiting
	}})
}

// withoutAutofill makes the browser report, on every page from now on,
// that it offers no passkeys in autofill, as many browsers do.
func (p *person) withoutAutofill() {
	p.t.Helper()
	call(p, "turn autofill off", page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false);`,
	})
}

// addKey adds a passkey or security key from the account page, named
// name ("" for the default), and leaves the tab on the page after it;
// shot names the screenshot of the page that adds it ("" for none).
func (p *person) addKey(name, shot string) {
	p.t.Helper()
	if name != "" {
		p.typeInto("#factor_name", name)
	}
	if st := p.press(`button[name=type][value=webauthn]`); st != http.StatusOK {
		p.fatalf("add a passkey: %d", st)
	}
	p.see("Add a passkey or security key")
	if shot != "" {
		p.step(shot)
	}
	p.click(`form[data-webauthn=create] [data-webauthn-start]`)
	p.waitFor("/account/factors/verify")
}

// addFirstKey adds the account's first factor, a passkey or security key,
// as addKey does; takes the recovery codes that come with a first factor;
// and goes back to the account page, which must list the key by its name
// ("Passkey" by default).
func (p *person) addFirstKey(name, shot string) {
	p.t.Helper()
	p.addKey(name, shot)
	p.recoveryCodes()
	p.press(`a.btn-primary[href^="/account"]`)
	if name == "" {
		name = "Passkey"
	}
	p.see(name)
}

// TestPasskeySignIn: a person adds a passkey on the account page, signs
// out, and signs in with it without typing an email: from the email
// field's autofill, and with the "Sign in with a passkey" button where
// the browser offers no autofill. The session is at aal2: a change that
// needs the second step goes through at once. Someone with no passkey
// for latch who presses the button is told calmly that nothing happened.
//
// Checks: WebAuthn Level 3 §5.1.3 and §5.1.4 through the browser's own
// API (real attestation and assertion objects from Chromium's virtual
// authenticator), §5.1.4.1 (conditional mediation, aborted for the
// button); NIST SP 800-63B §5.1.8 (multi-factor cryptographic
// authenticator: a passkey with user verification is AAL2 alone);
// ASVS 5.0 V6.5.7 (FIDO authenticators).
func TestPasskeySignIn(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, db database) {
		l := startLocalhost(t, db, "LATCH_SIGNUP_REQUIRE_VERIFICATION=off")
		l.createUser(t, "grace@example.com", password1)

		grace := newPerson(t, "grace", 2*time.Minute)
		grace.authenticator()
		grace.openSignIn(l, "grace@example.com", password1)
		grace.addFirstKey("", "passkey-1-add")
		grace.step("passkey-2-account")

		// Signed out, the sign-in page offers the passkey in the email
		// field's autofill (conditional mediation): Chromium's virtual
		// authenticator answers it at once, so the page signs in as soon
		// as it opens, no email typed.
		grace.signOut()
		grace.open(l.URL + "/login")
		grace.waitFor("/account")
		grace.see("grace@example.com")

		// Where the browser offers no autofill, the button does it.
		grace.signOut()
		grace.withoutAutofill()
		grace.open(l.URL + "/login")
		if ac := eval[string](grace, `document.querySelector("#email").getAttribute("autocomplete")`); ac != "username webauthn" {
			grace.fatalf("the email field's autocomplete is %q, want passkeys offered in autofill", ac)
		}
		if !grace.shown(`form[action="/login/passkey"] [data-webauthn-start]`) {
			grace.fatalf("no \"Sign in with a passkey\" button")
		}
		grace.see("Sign in with a passkey")
		grace.step("passkey-3-login")
		grace.narrow("passkey-3-login")
		grace.click(`form[action="/login/passkey"] [data-webauthn-start]`)
		grace.waitFor("/account")
		grace.see("grace@example.com")
		if c := cookieNamed(grace.cookies(l.URL), "latch_mfa"); c != nil {
			grace.fatalf("a passkey with user verification was sent to a second step: %+v", c)
		}

		// aal2: new recovery codes (which need the second step once the
		// account has one) come at once, with no password asked.
		grace.press(`form[action="/account/factors/recovery"] button`)
		if grace.exists("#factor_password") {
			grace.fatalf("a password is asked for right after a passkey sign-in")
		}
		grace.press(`form[action="/account/factors/recovery"] button.btn-primary`)
		grace.recoveryCodes()
		grace.noScriptProblems()

		// Someone whose authenticator has no passkey for latch presses
		// the button: a calm message, not an exception.
		alan := newPerson(t, "alan", 2*time.Minute)
		alan.authenticator()
		alan.withoutAutofill()
		alan.open(l.URL + "/login")
		alan.click(`form[action="/login/passkey"] [data-webauthn-start]`)
		alan.waitText(`form[action="/login/passkey"] .webauthn-status`, "Nothing happened")
		if at := alan.at(); at.Path != "/login" {
			alan.fatalf("after a cancelled passkey: at %s, want /login", at)
		}
		alan.step("passkey-cancelled")
		alan.noScriptProblems()
	})
}

// TestPasskeyAsSecondStep: a person adds a security key and then signs
// in with the password and the key as the second step.
//
// Checks: NIST SP 800-63B §4.2.1 (two factors before the session);
// WebAuthn Level 3 §5.1.4 (an assertion limited to the user's credential,
// allowCredentials).
func TestPasskeyAsSecondStep(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, db database) {
		l := startLocalhost(t, db, "LATCH_SIGNUP_REQUIRE_VERIFICATION=off")
		l.createUser(t, "bob@example.com", password1)
		bob := newPerson(t, "bob", 2*time.Minute)
		bob.authenticator()
		bob.openSignIn(l, "bob@example.com", password1)
		bob.addFirstKey("YubiKey", "")
		bob.signOut()

		bob.withoutAutofill() // else the passkey signs Bob in from the email field
		bob.secondStep(l, "bob@example.com")
		bob.see("Use your security key or passkey")
		bob.step("passkey-4-second-step")
		bob.narrow("passkey-4-second-step")
		bob.click(`form[action="/login/mfa"] [data-webauthn-start]`)
		bob.waitFor("/account")
		if !strings.Contains(bob.text("main"), "last used") {
			bob.fatalf("the key's last use is not on the account page")
		}
		bob.noScriptProblems()
	})
}
