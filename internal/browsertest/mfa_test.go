package browsertest

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/latchauth/latch/internal/e2e"
)

// Two-step verification in a real browser: an authenticator app added on
// the account page and asked for at sign-in, recovery codes, a passkey
// enrolled and then used to sign in without an email, a security key as
// the second step, and an application's sign-in that gets no code before
// the second step. WebAuthn runs against Chromium's virtual
// authenticator (CTAP2, resident keys, user verification), on
// http://localhost: browsers refuse an IP address as a relying-party id.

// startLocalhost starts latch with the public URL http://localhost:port
// (listening on 127.0.0.1), so that passkeys work.
func startLocalhost(t *testing.T, db database, env ...string) *latch {
	t.Helper()
	addr := freeAddr(t)
	port := addr[strings.LastIndex(addr, ":")+1:]
	return startLatchOn(t, db, addr, "http://localhost:"+port, env...)
}

// startLatchOn starts latch listening on addr with the public URL public.
func startLatchOn(t *testing.T, db database, addr, public string, env ...string) *latch {
	t.Helper()
	all := append([]string{"LATCH_ADDR=" + addr, "LATCH_PUBLIC_URL=" + public, "LATCH_METRICS_ADDR=off", "LATCH_SIGNUP_REQUIRE_VERIFICATION=off"}, db.env(t)...)
	l := &latch{URL: public, proc: e2e.Start(t, t.TempDir(), append(all, env...)...)}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("latch's log:\n%s", tail(l.proc.Logs(), 40))
		}
	})
	return l
}

// authenticator gives the person's browser a virtual platform
// authenticator that keeps passkeys and verifies its user.
func (p *person) authenticator() {
	p.t.Helper()
	ctx, cancel := p.stepCtx()
	defer cancel()
	off := false
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{EnableUI: &off}); err != nil {
		p.fatalf("enable WebAuthn: %v", err)
	}
	if _, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
		Protocol:                    webauthn.AuthenticatorProtocolCtap2,
		Ctap2version:                webauthn.Ctap2versionCtap21,
		Transport:                   webauthn.AuthenticatorTransportInternal,
		HasResidentKey:              true,
		HasUserVerification:         true,
		IsUserVerified:              true,
		AutomaticPresenceSimulation: true, // Go's zero value would leave every ceremony waiting
	}}); err != nil {
		p.fatalf("add a virtual authenticator: %v", err)
	}
}

// code is RFC 6238's code (SHA-1, 6 digits, 30 s) of the base32 key the
// page shows, at t: this test's own, not latch's.
func code(t *testing.T, key string, at time.Time) string {
	t.Helper()
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(strings.Join(strings.Fields(key), "")))
	if err != nil {
		t.Fatalf("the key %q is not base32: %v", key, err)
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(at.Unix()/30))
	m := hmac.New(sha1.New, secret)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	return fmt.Sprintf("%06d", (binary.BigEndian.Uint32(sum[off:off+4])&0x7fffffff)%1_000_000)
}

// scriptProblems are the console's problems but the 400 answers that
// wrong codes get on purpose: exceptions, CSP refusals, failed loads.
func (p *person) scriptProblems() []consoleEntry {
	var out []consoleEntry
	for _, c := range p.problems() {
		if !strings.Contains(c.text, "status of 400") {
			out = append(out, c)
		}
	}
	return out
}

// click clicks an element whose effect (a script's) comes later.
func (p *person) click(selector string) {
	p.t.Helper()
	p.do("click "+selector, chromedp.Click(chromedp.CSS(selector)))
}

// waitFor waits until the tab is at path and the page has loaded.
func (p *person) waitFor(path string) {
	p.t.Helper()
	deadline := time.Now().Add(p.limit)
	for time.Now().Before(deadline) {
		ctx, cancel := p.stepCtx()
		loc, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.readyState === "complete" ? location.pathname : ""`))
		cancel()
		if err == nil && loc == path {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.fatalf("the browser never reached %s; it is at %s", path, p.at())
}

// withoutAutofill makes the browser report, on every page from now on,
// that it offers no passkeys in autofill, as many browsers do.
func (p *person) withoutAutofill() {
	p.t.Helper()
	ctx, cancel := p.stepCtx()
	defer cancel()
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false);`,
	}); err != nil {
		p.fatalf("turn autofill off: %v", err)
	}
}

// signOut presses the account page's sign-out button.
func (p *person) signOut() {
	p.t.Helper()
	p.press(`form.signout button`)
}

// TestAuthenticatorAppInTheBrowser: a person adds an authenticator app
// from the account page (QR code, the key to type, a code to confirm),
// saves the recovery codes, and from then on signs in with the password
// and a code, or a recovery code once.
//
// Checks: NIST SP 800-63B §5.1.4.1 and §5.1.5.1 (single-factor OTP
// device, as the second factor: a code is accepted once), §5.1.2
// (look-up secrets: recovery codes, each once), §4.2.1 (AAL2 needs two
// factors before any session); ASVS 5.0 V6.3.3 (MFA available), V6.5.1
// (look-up secrets used once), V6.5.5 (TOTP codes used once).
func TestAuthenticatorAppInTheBrowser(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, db database) {
		l := startLocalhost(t, db)
		const email = "ada@example.com"
		l.createUser(t, email, password1)
		ada := newPerson(t, "ada", 2*time.Minute)
		ada.openSignIn(l, email, password1)
		ada.see("Two-step verification")
		ada.see("Add an authenticator app")

		// The app's page: a QR code, the key to type, a code to confirm.
		if st := ada.press(`button[name=type][value=totp]`); st != http.StatusOK {
			ada.fatalf("add an authenticator app: %d", st)
		}
		if !ada.exists(".qr svg") {
			ada.fatalf("no QR code on the authenticator app's page")
		}
		ada.step("mfa-1-add-app")
		ada.narrow("mfa-1-add-app")
		key := eval[string](ada, `document.querySelector("#totp-key").textContent`)
		ada.typeInto("#code", "000000")
		ada.press(`form[action="/account/factors/verify"] button.btn-primary`)
		ada.see("That code is not right")
		ada.typeInto("#code", code(t, key, time.Now()))
		if st := ada.press(`form[action="/account/factors/verify"] button.btn-primary`); st != http.StatusOK {
			ada.fatalf("turn on: %d", st)
		}

		// The recovery codes, once.
		ada.see("Save your recovery codes")
		codes := eval[[]string](ada, `Array.from(document.querySelectorAll("#codes code"), c => c.textContent)`)
		if len(codes) != 10 {
			ada.fatalf("%d recovery codes shown, want 10", len(codes))
		}
		if href := eval[string](ada, `document.querySelector("a[download]").getAttribute("href")`); !strings.HasPrefix(href, "data:text/plain") || !strings.Contains(href, codes[0]) {
			ada.fatalf("the download link does not carry the codes: %.60s", href)
		}
		ada.step("mfa-2-recovery-codes")
		ada.narrow("mfa-2-recovery-codes")
		ada.press(`a.btn-primary[href^="/account"]`)
		if got := ada.alert(); !strings.Contains(got, "Two-step verification is on") {
			ada.fatalf("after turning it on the notice says %q", got)
		}
		ada.see("10 of 10 left")
		ada.step("mfa-3-account")
		ada.narrow("mfa-3-account")

		// Signing in now asks for a code after the password; no session
		// before it.
		ada.signOut()
		ada.open(l.URL + "/login")
		ada.signIn(email, password1)
		if at := ada.at(); at.Path != "/login/mfa" {
			ada.fatalf("after the password the browser is at %s, want /login/mfa", at)
		}
		if c := cookieNamed(ada.cookies(l.URL), "latch_session"); c != nil {
			ada.fatalf("a session cookie before the second step: %+v", c)
		}
		ada.step("mfa-4-second-step")
		ada.narrow("mfa-4-second-step")
		ada.typeInto("#code", "123456")
		ada.press(`form[action="/login/mfa"] button.btn-primary`)
		ada.see("That code is not right")
		// The next step's code: the current one was spent turning it on.
		ada.typeInto("#code", code(t, key, time.Now().Add(30*time.Second)))
		if st := ada.press(`form[action="/login/mfa"] button.btn-primary`); st != http.StatusOK || ada.at().Path != "/account" {
			ada.fatalf("second step: %d at %s, want the account page", st, ada.at())
		}

		// A recovery code works once.
		for round, want := range []string{"/account", "/login/mfa"} {
			ada.signOut()
			ada.open(l.URL + "/login")
			ada.signIn(email, password1)
			ada.press(`a[href*="use=recovery"]`)
			if round == 0 {
				ada.step("mfa-5-recovery")
			}
			ada.typeInto("#recovery_code", strings.ToUpper(codes[2]))
			ada.press(`form[action="/login/mfa"] button.btn-primary`)
			if at := ada.at(); at.Path != want {
				ada.fatalf("recovery code, round %d: at %s, want %s", round+1, at, want)
			}
		}
		ada.see("That recovery code is not right")
		if probs := ada.scriptProblems(); len(probs) > 0 {
			ada.fatalf("console problems: %v", probs)
		}
	})
}

// TestPasskeyInTheBrowser: a person enrols a passkey from the account
// page, signs out, and signs in with it without typing an email; another
// uses a security key as the second step after the password.
//
// Checks: WebAuthn Level 3 §5.1.3 and §5.1.4 through the browser's own
// API (real attestation and assertion objects from Chromium's virtual
// authenticator); NIST SP 800-63B §5.1.8 (multi-factor cryptographic
// authenticator: a passkey with user verification is AAL2 alone);
// ASVS 5.0 V6.5.7 (FIDO authenticators).
func TestPasskeyInTheBrowser(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, db database) {
		l := startLocalhost(t, db)
		l.createUser(t, "grace@example.com", password1)
		l.createUser(t, "bob@example.com", password1)

		grace := newPerson(t, "grace", 2*time.Minute)
		grace.authenticator()
		grace.openSignIn(l, "grace@example.com", password1)
		if st := grace.press(`button[name=type][value=webauthn]`); st != http.StatusOK {
			grace.fatalf("add a passkey: %d", st)
		}
		grace.step("passkey-1-add")
		grace.click(`[data-webauthn-start]`)
		grace.waitFor("/account/factors/verify")
		grace.see("Save your recovery codes") // the first factor comes with codes
		grace.press(`a.btn-primary[href^="/account"]`)
		grace.see("Passkey")
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
		grace.see("Sign in with a passkey")
		grace.step("passkey-3-login")
		grace.narrow("passkey-3-login")
		grace.click(`form[action="/login/passkey"] [data-webauthn-start]`)
		grace.waitFor("/account")
		grace.see("grace@example.com")
		if probs := grace.scriptProblems(); len(probs) > 0 {
			grace.fatalf("console problems: %v", probs)
		}

		// Bob: a security key as the second step after his password.
		bob := newPerson(t, "bob", 2*time.Minute)
		bob.authenticator()
		bob.openSignIn(l, "bob@example.com", password1)
		bob.typeInto("#factor_name", "YubiKey")
		bob.press(`button[name=type][value=webauthn]`)
		bob.click(`[data-webauthn-start]`)
		bob.waitFor("/account/factors/verify")
		bob.press(`a.btn-primary[href^="/account"]`)
		bob.see("YubiKey")
		bob.signOut()
		bob.withoutAutofill() // else the passkey signs Bob in from the email field
		bob.open(l.URL + "/login")
		bob.signIn("bob@example.com", password1)
		if at := bob.at(); at.Path != "/login/mfa" {
			bob.fatalf("after the password: at %s, want /login/mfa", at)
		}
		bob.see("Use YubiKey")
		bob.step("passkey-4-second-step")
		bob.click(`form[action="/login/mfa"] [data-webauthn-start]`)
		bob.waitFor("/account")
	})
}

// TestAuthorizationWaitsForTheSecondStep: an application's sign-in of a
// person with an authenticator app gets no code until the second step is
// done (DESIGN.md: OAuth clients never see a half sign-in).
//
// Checks: NIST SP 800-63B §4.2.1 (no session below AAL2 for an account
// that has a second factor); RFC 6749 §4.1.2 (the code comes only after
// the resource owner is authenticated).
func TestAuthorizationWaitsForTheSecondStep(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, db database) {
		addr := freeAddr(t)
		public := "http://localhost:" + addr[strings.LastIndex(addr, ":")+1:]
		shop := newRelyingParty(t, "Shop", public)
		l := startLatchOn(t, db, addr, public, "LATCH_REDIRECT_URLS="+shop.redirectURI())
		const email = "hedy@example.com"
		l.createUser(t, email, password1)
		hedy := newPerson(t, "hedy", 2*time.Minute)
		hedy.openSignIn(l, email, password1)
		hedy.press(`button[name=type][value=totp]`)
		key := eval[string](hedy, `document.querySelector("#totp-key").textContent`)
		hedy.typeInto("#code", code(t, key, time.Now()))
		hedy.press(`form[action="/account/factors/verify"] button.btn-primary`)
		hedy.press(`a.btn-primary[href^="/account"]`)
		hedy.signOut()

		hedy.open(shop.srv.URL)
		before := len(hedy.requested())
		hedy.press("#signin")
		hedy.signIn(email, password1)
		if at := hedy.at(); at.Path != "/login/mfa" || !strings.Contains(at.RawQuery, "continue=") {
			hedy.fatalf("after the password: at %s, want /login/mfa carrying the authorization request", at)
		}
		for _, u := range hedy.requested()[before:] {
			if u.Path == "/cb" {
				hedy.fatalf("the application got an answer before the second step: %s", u)
			}
		}
		hedy.typeInto("#code", code(t, key, time.Now().Add(30*time.Second)))
		hedy.press(`form[action="/login/mfa"] button.btn-primary`)
		if got := hedy.text("#email"); got != email {
			hedy.fatalf("the application says it signed in %q, want %s", got, email)
		}
	})
}
