package browsertest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/providertest"
)

// TestSignInWithAProvider: a person signs in with a social provider in
// Chromium, through that provider's own sign-in page (a real OpenID
// Provider, zitadel/oidc's, on loopback), lands on the account page with
// the provider listed, signs out, and signs in again with one press.
//
// Checks: DESIGN.md "Social login" (the flow, state, nonce and PKCE
// bound to the browser by the flow cookie; the account page's providers);
// ASVS 5.0 V10.4.4 (the authorization code is used once, by the flow
// that asked for it), V3.3.4 (the flow cookie is HttpOnly).
func TestSignInWithAProvider(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, db database) {
		public := "http://" + freeAddr(t)
		op := providertest.StartOIDC(t, []string{public + "/v1/callback/corp"},
			providertest.User{ID: "u-ada", Username: "ada", Password: "ada-at-corp", Email: "ada@corp.example", EmailVerified: true, FirstName: "Ada"},
			providertest.User{ID: "u-bob", Username: "bob", Password: "bob-at-corp", Email: "bob@corp.example", EmailVerified: true, FirstName: "Bob"})
		providers := fmt.Sprintf(`[{id: corp, type: oidc, name: Corp SSO, issuer: %q, client_id: %q, client_secret: %q}]`, op.Issuer, op.ClientID, op.ClientSecret)
		l := startLatchAt(t, db, public, "LATCH_PROVIDERS="+providers)
		ada := newPerson(t, "social", 2*time.Minute)

		ada.open(l.URL + "/login")
		ada.see("Continue with Corp SSO")
		ada.step("1-login")
		ada.narrow("1-login")
		ada.press(`.methods a[href^="/login/provider/corp"]`)
		if !strings.HasPrefix(ada.at().String(), op.Issuer) {
			ada.fatalf("the button led to %s, want the provider", ada.at())
		}
		if c := cookieNamed(ada.cookies(l.URL), "latch_flow"); c == nil || !c.HTTPOnly {
			ada.fatalf("flow cookie: %+v, want one, HttpOnly", c)
		}
		ada.step("2-at-the-provider")
		ada.typeInto("#username", "ada")
		ada.typeInto("#password", "ada-at-corp")
		if st := ada.press(`button[type=submit]`); st != http.StatusOK || ada.at().Path != "/account" {
			ada.fatalf("after the provider: %d at %s, want 200 at /account", st, ada.at())
		}
		ada.see("ada@corp.example")
		ada.see("Sign-in providers")
		ada.see("Corp SSO")
		if cookieNamed(ada.cookies(l.URL), "latch_flow") != nil {
			ada.fatalf("the flow cookie outlived its callback")
		}
		ada.step("3-account")
		ada.narrow("3-account")

		// Signed out, one press signs in again: the provider remembers
		// nothing here (its example storage asks again), latch finds the
		// same account.
		ada.open(l.URL + "/logout")
		ada.press(`form[action="/logout"] button[type=submit]`)
		ada.open(l.URL + "/login")
		ada.press(`.methods a[href^="/login/provider/corp"]`)
		ada.typeInto("#username", "ada")
		ada.typeInto("#password", "ada-at-corp")
		if st := ada.press(`button[type=submit]`); st != http.StatusOK || ada.at().Path != "/account" {
			ada.fatalf("second sign-in: %d at %s", st, ada.at())
		}
		ada.see("ada@corp.example")

		// Bob has an account with a password at his Corp address. Corp
		// is a generic provider, not trusted to join it on its word: he
		// is asked to sign in first, then offered the link.
		l.createUser(t, "bob@corp.example", password1)
		bob := newPerson(t, "social-bob", 2*time.Minute)
		bob.open(l.URL + "/login")
		bob.press(`.methods a[href^="/login/provider/corp"]`)
		bob.typeInto("#username", "bob")
		bob.typeInto("#password", "bob-at-corp")
		if st := bob.press(`button[type=submit]`); st != http.StatusConflict {
			bob.fatalf("an existing address through an untrusted provider: %d, want 409", st)
		}
		bob.see("already exists")
		bob.step("4-sign-in-first")
		bob.narrow("4-sign-in-first")
		bob.press(`a.btn-primary`)
		if st := bob.signIn("bob@corp.example", password1); st != http.StatusOK || bob.at().Path != "/login/link" {
			bob.fatalf("after signing in: %d at %s, want the link offer", st, bob.at())
		}
		bob.see("Link Corp SSO?")
		bob.step("5-link-offer")
		bob.narrow("5-link-offer")
		if st := bob.press(`button[value=yes]`); st != http.StatusOK || bob.at().Path != "/account" {
			bob.fatalf("after linking: %d at %s", st, bob.at())
		}
		bob.see("Sign-in providers")
		bob.see("bob@corp.example · linked")
	})
}

// narrow saves the step's screenshot again on a 320-pixel-wide phone.
func (p *person) narrow(step string) {
	p.t.Helper()
	p.viewport(320, 640, true)
	p.step(step + "-320")
	p.viewport(1280, 860, false)
}
