package browsertest

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// Two-step verification in a real browser: an authenticator app added on
// the account page and asked for at sign-in, recovery codes shown once
// and each accepted once, new codes that replace the old, a second step
// that dies after too many wrong answers, and an application's sign-in
// that gets no code before the second step. The passkey flows are in
// passkey_test.go.

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

// The code helper against RFC 6238 Appendix B's SHA-1 vectors (the
// 20-byte key "12345678901234567890", 8 digits there; the last 6 here).
func TestMFACodeHelperMatchesRFC6238(t *testing.T) {
	key := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte("12345678901234567890"))
	for unix, want := range map[int64]string{
		59:          "287082", // 94287082
		1111111109:  "081804", // 07081804
		1111111111:  "050471", // 14050471
		1234567890:  "005924", // 89005924
		2000000000:  "279037", // 69279037
		20000000000: "353130", // 65353130
	} {
		if got := code(t, key, time.Unix(unix, 0)); got != want {
			t.Errorf("code at %d = %s, want %s", unix, got, want)
		}
	}
}

// scriptProblems are the console's problems but the 4xx answers that
// wrong codes get on purpose: exceptions, CSP refusals, failed loads.
func (p *person) scriptProblems() []consoleEntry {
	var out []consoleEntry
	for _, c := range p.problems() {
		if !strings.Contains(c.text, "status of 400") && !strings.Contains(c.text, "status of 429") {
			out = append(out, c)
		}
	}
	return out
}

// noScriptProblems fails if the console has scriptProblems.
func (p *person) noScriptProblems() {
	p.t.Helper()
	if probs := p.scriptProblems(); len(probs) > 0 {
		p.fatalf("console problems: %v", probs)
	}
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

// waitText waits until the element shows text (a script's message).
func (p *person) waitText(selector, text string) {
	p.t.Helper()
	deadline := time.Now().Add(p.limit)
	for time.Now().Before(deadline) {
		if got := eval[string](p, `(document.querySelector(`+jsString(selector)+`) || {innerText: ""}).innerText`); strings.Contains(got, text) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.fatalf("%s never said %q", selector, text)
}

// jsString quotes s for a script.
func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// shown reports whether the element is on the page and drawn (not
// hidden, nor inside a closed disclosure).
func (p *person) shown(selector string) bool {
	p.t.Helper()
	return eval[bool](p, `(() => { const e = document.querySelector(`+jsString(selector)+`); return !!e && e.checkVisibility(); })()`)
}

// allowClipboard lets the person's pages read and write the clipboard,
// as a person who says yes to the browser's question does.
func (p *person) allowClipboard() {
	p.t.Helper()
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		call(p, "allow "+name, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: name}, Setting: browser.PermissionSettingGranted,
			BrowserContextID: chromedp.FromContext(p.ctx).BrowserContextID,
		})
	}
}

// copied presses a Copy button and returns what reached the clipboard.
func (p *person) copied(button string) string {
	p.t.Helper()
	p.click(button)
	p.waitText(button, "Copied")
	return run(p, "read the clipboard", chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
}

// downloaded clicks a download link and returns the file the browser
// saved, and its name.
func (p *person) downloaded(link string) (name, content string) {
	p.t.Helper()
	dir := p.t.TempDir()
	call(p, "allow downloads", browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir,
		BrowserContextID: chromedp.FromContext(p.ctx).BrowserContextID,
	})
	p.click(link)
	deadline := time.Now().Add(p.limit)
	for time.Now().Before(deadline) {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".crdownload") {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err == nil && len(b) > 0 {
				return e.Name(), string(b)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.fatalf("%s downloaded nothing", link)
	return "", ""
}

// signOut presses the account page's sign-out button.
func (p *person) signOut() {
	p.t.Helper()
	p.press(`form.signout button`)
}

// addApp adds an authenticator app from the account page: the app's
// page, its key (read where a person who cannot scan reads it), and the
// code that turns it on. It returns the key; the tab is on the page
// after it (the recovery codes, for a first factor).
func (p *person) addApp(at time.Time) string {
	p.t.Helper()
	if st := p.press(`button[name=type][value=totp]`); st != http.StatusOK {
		p.fatalf("add an authenticator app: %d", st)
	}
	p.click(`.steps details summary`)
	key := p.text("#totp-key")
	p.typeInto("#code", code(p.t, key, at))
	if st := p.press(`form[action="/account/factors/verify"] button.btn-primary`); st != http.StatusOK {
		p.fatalf("turn the app on: %d", st)
	}
	return key
}

// recoveryCodes reads the codes on the page that shows them once.
func (p *person) recoveryCodes() []string {
	p.t.Helper()
	p.see("Save your recovery codes")
	codes := eval[[]string](p, `Array.from(document.querySelectorAll("#codes code"), c => c.textContent)`)
	if len(codes) != 10 {
		p.fatalf("%d recovery codes shown, want 10", len(codes))
	}
	return codes
}

// secondStep signs in with the password and checks that the browser is
// asked for the second step, with no session yet.
func (p *person) secondStep(l *latch, email string) {
	p.t.Helper()
	p.open(l.URL + "/login")
	p.signIn(email, password1)
	if at := p.at(); at.Path != "/login/mfa" {
		p.fatalf("after the password the browser is at %s, want /login/mfa", at)
	}
	if c := cookieNamed(p.cookies(l.URL), "latch_session"); c != nil {
		p.fatalf("a session cookie before the second step: %+v", c)
	}
}

// answer types a code into the second step's field and sends it.
func (p *person) answer(field, value string) int64 {
	p.t.Helper()
	if value != "" {
		p.typeInto("#"+field, value)
	}
	return p.press(`form[action="/login/mfa"] button.btn-primary`)
}

// TestMFAAuthenticatorApp: a person adds an authenticator app from the
// account page (QR code, the key to type, a code to confirm), saves the
// recovery codes, and from then on signs in with the password and a
// code, or a recovery code once; new recovery codes replace the old.
//
// Checks: NIST SP 800-63B §5.1.4.1 and §5.1.5.1 (single-factor OTP
// device, as the second factor: a code is accepted once), §5.1.2
// (look-up secrets: recovery codes, each once), §4.2.1 (AAL2 needs two
// factors before any session); ASVS 5.0 V6.3.3 (MFA available), V6.5.1
// (look-up secrets used once), V6.5.5 (TOTP codes used once).
func TestMFAAuthenticatorApp(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, db database) {
		l := startLocalhost(t, db, "LATCH_SIGNUP_REQUIRE_VERIFICATION=off")
		const email = "ada@example.com"
		l.createUser(t, email, password1)
		ada := newPerson(t, "ada", 2*time.Minute)
		ada.allowClipboard()
		ada.openSignIn(l, email, password1)
		ada.see("Two-step verification")

		// The app's page: a QR code, the key to type for who cannot
		// scan, a code to confirm; a wrong code is said so.
		if st := ada.press(`button[name=type][value=totp]`); st != http.StatusOK {
			ada.fatalf("add an authenticator app: %d", st)
		}
		if !ada.exists(".qr svg") {
			ada.fatalf("no QR code on the authenticator app's page")
		}
		if ada.shown("#totp-key") {
			ada.fatalf("the key shows before the person asks for it")
		}
		ada.click(`.steps details summary`)
		if !ada.shown("#totp-key") {
			ada.fatalf("\"Can't scan the code?\" does not show the key")
		}
		key := ada.text("#totp-key")
		if strings.Count(key, " ") < 3 {
			ada.fatalf("the key %q is not grouped for typing", key)
		}
		if got, want := ada.copied(`button[data-copy="totp-key"]`), strings.Join(strings.Fields(key), ""); got != want {
			ada.fatalf("Copy put %q on the clipboard, want the key without its spaces %q", got, want)
		}
		ada.step("mfa-1-add-app")
		ada.narrow("mfa-1-add-app")
		ada.answerEnrolment("")
		ada.see("This field is required")
		ada.answerEnrolment("000000")
		ada.see("That code is not right")
		if st := ada.answerEnrolment(code(t, key, time.Now())); st != http.StatusOK {
			ada.fatalf("turn on: %d", st)
		}

		// The recovery codes, once, with a way to copy them and a file.
		codes := ada.recoveryCodes()
		ada.see("This is the only time they are shown")
		if got, want := ada.copied(`button[data-copy="codes"]`), strings.Join(codes, "\n")+"\n"; got != want {
			ada.fatalf("Copy put %q on the clipboard, want the codes a line each %q", got, want)
		}
		name, file := ada.downloaded(`a[download]`)
		if name != "recovery-codes.txt" || !strings.Contains(file, strings.Join(codes, "\n")) || !strings.Contains(file, "Each one works once") {
			ada.fatalf("Download saved %s:\n%s\nwant recovery-codes.txt with the codes, a line each", name, file)
		}
		ada.step("mfa-2-recovery-codes")
		ada.narrow("mfa-2-recovery-codes")
		ada.press(`a.btn-primary[href^="/account"]`)
		if got := ada.alert(); !strings.Contains(got, "Two-step verification is on") {
			ada.fatalf("after turning it on the notice says %q", got)
		}
		ada.see("Authenticator app")
		ada.see("10 of 10 left")
		ada.step("mfa-3-account")
		ada.narrow("mfa-3-account")

		// Signing in now asks for a code after the password, in a field
		// made for it; no session before it.
		ada.signOut()
		ada.secondStep(l, email)
		for attr, want := range map[string]string{"inputmode": "numeric", "autocomplete": "one-time-code", "autofocus": ""} {
			if got := eval[string](ada, `document.querySelector("#code").getAttribute("`+attr+`") ?? "absent"`); got != want {
				ada.fatalf("the code field's %s is %q, want %q", attr, got, want)
			}
		}
		ada.step("mfa-4-second-step")
		ada.narrow("mfa-4-second-step")
		ada.answer("code", "")
		ada.see("This field is required")
		if st := ada.answer("code", "123456"); st != http.StatusBadRequest {
			ada.fatalf("a wrong code: %d, want 400", st)
		}
		ada.see("That code is not right")
		if got := eval[string](ada, `document.querySelector("#code").getAttribute("aria-describedby")`); got != "code-error" {
			ada.fatalf("the error is not tied to the field: aria-describedby=%q", got)
		}
		ada.step("mfa-4-second-step-error")
		// The next step's code: the current one was spent turning it on.
		if st := ada.answer("code", code(t, key, time.Now().Add(30*time.Second))); st != http.StatusOK || ada.at().Path != "/account" {
			ada.fatalf("second step: %d at %s, want the account page", st, ada.at())
		}
		if c := cookieNamed(ada.cookies(l.URL), "latch_mfa"); c != nil {
			ada.fatalf("the second step's cookie outlived it: %+v", c)
		}

		// A recovery code works once.
		for round, want := range []string{"/account", "/login/mfa"} {
			ada.signOut()
			ada.secondStep(l, email)
			ada.press(`a[href*="use=recovery"]`)
			if round == 0 {
				ada.step("mfa-5-recovery")
			}
			ada.answer("recovery_code", strings.ToUpper(codes[2]))
			if at := ada.at(); at.Path != want {
				ada.fatalf("recovery code, round %d: at %s, want %s", round+1, at, want)
			}
		}
		ada.see("That recovery code is not right")
		ada.answer("recovery_code", codes[3])
		ada.see("8 of 10 left")

		// New codes replace the old, after a confirmation.
		if st := ada.press(`form[action="/account/factors/recovery"] button`); st != http.StatusOK {
			ada.fatalf("generate new codes: %d", st)
		}
		ada.see("Generate new recovery codes?")
		ada.see("Your current recovery codes will stop working")
		if ada.exists("#factor_password") {
			ada.fatalf("a password is asked for right after signing in")
		}
		ada.press(`form[action="/account/factors/recovery"] button.btn-primary`)
		ada.see("Here are your new recovery codes")
		fresh := ada.recoveryCodes()
		if slices.Contains(fresh, codes[4]) {
			ada.fatalf("the new codes include an old one")
		}
		ada.press(`a.btn-primary[href^="/account"]`)
		ada.see("10 of 10 left")
		ada.signOut()
		ada.secondStep(l, email)
		ada.press(`a[href*="use=recovery"]`)
		ada.answer("recovery_code", codes[4])
		ada.see("That recovery code is not right")
		if ada.answer("recovery_code", fresh[0]); ada.at().Path != "/account" {
			ada.fatalf("a new recovery code: at %s, want /account", ada.at())
		}
		ada.noScriptProblems()
	})
}

// answerEnrolment types a code on the authenticator app's page and sends
// it.
func (p *person) answerEnrolment(value string) int64 {
	p.t.Helper()
	if value != "" {
		p.typeInto("#code", value) // empty: a page drawn again keeps no code
	}
	return p.press(`form[action="/account/factors/verify"] button.btn-primary`)
}

// TestMFATooManyWrongCodes: after five wrong codes the waiting sign-in is
// dead, even for the right code: the person is sent back to sign in
// again, told why, with no session; signing in again works (after the
// wait the throttle asks for, if any).
//
// Checks: NIST SP 800-63B §5.2.2 (rate limiting of the second factor
// too); DESIGN.md (the mfa_token dies after 5 wrong answers, which count
// toward the login throttle).
func TestMFATooManyWrongCodes(t *testing.T) {
	t.Parallel()
	l := startLocalhost(t, sqlite, "LATCH_SIGNUP_REQUIRE_VERIFICATION=off")
	const email = "lin@example.com"
	l.createUser(t, email, password1)
	lin := newPerson(t, "lin", 2*time.Minute)
	lin.openSignIn(l, email, password1)
	key := lin.addApp(time.Now())
	lin.recoveryCodes()
	lin.press(`a.btn-primary[href^="/account"]`)
	lin.signOut()

	lin.secondStep(l, email)
	wrong := code(t, key, time.Now().Add(-10*time.Minute))
	for i := range 5 {
		if st := lin.answer("code", wrong); st != http.StatusBadRequest {
			lin.fatalf("wrong code %d: %d, want 400", i+1, st)
		}
		lin.see("That code is not right")
	}
	lin.answer("code", code(t, key, time.Now().Add(30*time.Second)))
	if got := lin.h1(); got != "Sign in" {
		lin.fatalf("a dead second step shows %q, want the sign-in page", got)
	}
	if got := lin.alert(); !strings.Contains(got, "took too long or was tried too many times") {
		lin.fatalf("a dead second step says %q", got)
	}
	if c := cookieNamed(lin.cookies(l.URL), "latch_session"); c != nil {
		lin.fatalf("a session after a dead second step: %+v", c)
	}
	if c := cookieNamed(lin.cookies(l.URL), "latch_mfa"); c != nil {
		lin.fatalf("the dead second step's cookie is kept: %+v", c)
	}
	lin.step("mfa-start-over")

	// Six failures in a row: the throttle may ask for a short wait, and
	// says so on the sign-in page.
	deadline := time.Now().Add(30 * time.Second)
	for lin.signIn(email, password1) == http.StatusTooManyRequests {
		if got := lin.alert(); !strings.Contains(got, "Too many attempts") {
			lin.fatalf("the throttle says %q", got)
		}
		if time.Now().After(deadline) {
			lin.fatalf("still throttled after 30 s")
		}
		time.Sleep(1500 * time.Millisecond)
	}
	if lin.answer("code", code(t, key, time.Now().Add(30*time.Second))); lin.at().Path != "/account" {
		lin.fatalf("signing in again: at %s, want /account", lin.at())
	}
}

// h1 is the page's heading.
func (p *person) h1() string {
	p.t.Helper()
	return p.text("h1")
}

// TestMFABeforeAuthorizationCode: an application's sign-in of a person
// with an authenticator app gets no code until the second step is done
// (DESIGN.md: OAuth clients never see a half sign-in).
//
// Checks: NIST SP 800-63B §4.2.1 (no session below AAL2 for an account
// that has a second factor); RFC 6749 §4.1.2 (the code comes only after
// the resource owner is authenticated).
func TestMFABeforeAuthorizationCode(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, db database) {
		public := localhostURL(t)
		shop := newRelyingParty(t, "Shop", public)
		l := startLatchAt(t, db, public, "LATCH_SIGNUP_REQUIRE_VERIFICATION=off", "LATCH_REDIRECT_URLS="+shop.redirectURI())
		const email = "hedy@example.com"
		l.createUser(t, email, password1)
		hedy := newPerson(t, "hedy", 2*time.Minute)
		hedy.openSignIn(l, email, password1)
		key := hedy.addApp(time.Now())
		hedy.press(`a.btn-primary[href^="/account"]`)
		hedy.signOut()

		hedy.open(shop.srv.URL)
		before := len(hedy.requested())
		hedy.press("#signin")
		hedy.signIn(email, password1)
		if at := hedy.at(); at.Path != "/login/mfa" || !strings.Contains(at.RawQuery, "continue=") {
			hedy.fatalf("after the password: at %s, want /login/mfa carrying the authorization request", at)
		}
		if c := cookieNamed(hedy.cookies(l.URL), "latch_session"); c != nil {
			hedy.fatalf("a session cookie before the second step: %+v", c)
		}
		// A wrong code keeps the authorization request waiting.
		hedy.answer("code", "000000")
		hedy.see("That code is not right")
		for _, u := range hedy.requested()[before:] {
			if u.Path == "/cb" {
				hedy.fatalf("the application got an answer before the second step: %s", u)
			}
		}
		hedy.answer("code", code(t, key, time.Now().Add(30*time.Second)))
		if got := hedy.text("#email"); got != email {
			hedy.fatalf("the application says it signed in %q, want %s", got, email)
		}
	})
}
