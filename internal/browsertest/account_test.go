package browsertest

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
)

// TestSignUpAndManageSessions walks a person through sign-up with an
// emailed link, the account page, a password change, a second device, and
// ending sessions.
//
// Checks: ASVS 5.0 V6.2.2 and V6.2.3 (a person can change the password,
// and the change needs the current one), V7.4.1 (a session that was ended
// — by logout or from another device — cannot be used again), V7.5.2 (a
// person can see their sessions and end any of them), V3.3.4 and V3.3.2
// (the session cookie is HttpOnly and SameSite); NIST SP 800-63B §7.1
// (a session secret in a cookie, ended at logout).
func TestSignUpAndManageSessions(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, db database) {
		l := startLatch(t, db, withMail, "LATCH_SIGNUP_REQUIRE_VERIFICATION=on")
		const email = "ada@example.com"
		ada := newPerson(t, "ada", 2*time.Minute)

		// Sign up: latch asks to check the mailbox, and signs no one in
		// before the address is proven.
		ada.open(l.URL + "/signup")
		if st := ada.signUp(email, password1); st != http.StatusAccepted {
			ada.fatalf("sign-up: got %d, want 202", st)
		}
		ada.see("Check your email")
		ada.see(email)
		ada.step("1-check-email")
		if c := cookieNamed(ada.cookies(l.URL), "latch_session"); c != nil {
			ada.fatalf("a session cookie before the address was verified: %+v", c)
		}

		// The link from the delivered message opens a form that asks for
		// the password; sending it verifies the address and signs in.
		ada.open(l.linkInMail(t, email, "/verify"))
		ada.step("2-verify-form")
		ada.typeInto("#password", password1)
		if st := ada.press(`form[action="/verify"] button.btn-primary`); st != http.StatusOK {
			ada.fatalf("verify: got %d, want 200", st)
		}
		ada.see("Address verified")
		ada.step("3-verified")
		session := cookieNamed(ada.cookies(l.URL), "latch_session")
		if session == nil || !session.HTTPOnly || session.SameSite != network.CookieSameSiteLax || session.Path != "/" {
			ada.fatalf("session cookie after verifying: %+v, want HttpOnly, SameSite=Lax, Path=/", session)
		}

		ada.press(`a.btn-primary[href="/account"]`)
		if got := ada.text("dl.profile"); !strings.Contains(got, email) {
			ada.fatalf("the account page's profile says %q, want the address %s", got, email)
		}
		ada.step("4-account")

		// Change the password: the current one and a new one.
		ada.typeInto("#current_password", password1)
		ada.typeInto("#new_password", password2)
		if st := ada.press(`form[action="/account/password"] button[type=submit]`); st != http.StatusOK {
			ada.fatalf("change password: got %d, want 200", st)
		}
		if got := ada.alert(); !strings.Contains(got, "password is changed") {
			ada.fatalf("after changing the password the notice says %q", got)
		}
		ada.step("5-password-changed")

		// A second device signs in with the new password.
		laptop := newPerson(t, "ada-laptop", 2*time.Minute)
		laptop.openSignIn(l, email, password2)
		laptop.see(email)

		// The first device sees two sessions and ends the other one.
		ada.open(l.URL + "/account")
		if got := ada.sessions(); len(got) != 2 {
			ada.fatalf("sessions listed: %q, want 2", got)
		}
		ada.step("6-two-sessions")
		if st := ada.press(`ul.sessions form[action="/account/sessions/end"] button[type=submit]`); st != http.StatusOK {
			ada.fatalf("end the other session: got %d, want 200", st)
		}
		if got := ada.sessions(); len(got) != 1 || !strings.Contains(got[0], "This browser") {
			ada.fatalf("sessions after ending the other: %q, want only this device's", got)
		}
		ada.step("7-other-ended")

		// The second device is signed out: its account page sends it to
		// sign in.
		laptop.open(l.URL + "/account")
		if at := laptop.at(); at.Path != "/login" {
			laptop.fatalf("the ended session still opens %s", at)
		}

		// Sign out: the session ends and the account page is closed.
		if st := ada.press(`form[action="/logout"] button[type=submit]`); st != http.StatusOK {
			ada.fatalf("sign out: got %d, want 200", st)
		}
		ada.see("You are signed out")
		ada.step("8-signed-out")
		ada.open(l.URL + "/account")
		if at := ada.at(); at.Path != "/login" {
			ada.fatalf("after signing out /account shows %s", at)
		}
		if c := cookieNamed(ada.cookies(l.URL), "latch_session"); c != nil {
			ada.fatalf("the session cookie outlived the sign-out: %+v", c)
		}
	})
}
