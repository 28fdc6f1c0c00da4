package server_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/providertest"
)

// Social login through the real router, on both databases, against a
// real OpenID Provider on loopback (zitadel/oidc's op with its login
// page): the browser flow, the id_token grant of native apps, linking
// and unlinking, and the attacks DESIGN.md "Social login" names.

const corpCallback = "http://localhost:8080/v1/callback/corp"

// opUsers: ada has a verified address at the provider, eve an
// unverified one.
var opUsers = []providertest.User{
	{ID: "u-ada", Username: "ada", Password: "ada-op-password", Email: "ada@corp.example", EmailVerified: true, FirstName: "Ada", LastName: "Lovelace"},
	{ID: "u-eve", Username: "eve", Password: "eve-op-password", Email: "eve@corp.example", EmailVerified: false},
	{ID: "u-bob", Username: "bob", Password: "bob-op-password", Email: "bob@corp.example", EmailVerified: true},
}

// withOIDCProvider configures the provider "corp" (type oidc) at op.
func withOIDCProvider(op *providertest.OIDC, extra string) harnessOption {
	list := fmt.Sprintf(`[{id: corp, type: oidc, name: Corp SSO, issuer: %q, client_id: %q, client_secret: %q%s}]`, op.Issuer, op.ClientID, op.ClientSecret, extra)
	return withEnv("LATCH_PROVIDERS", list)
}

// forEachSocialHarness runs test on both databases with a fresh provider
// and a harness that knows it.
func forEachSocialHarness(t *testing.T, test func(t *testing.T, h *harness, op *providertest.OIDC), opts ...harnessOption) {
	t.Helper()
	forEachBackend(t, func(t *testing.T, b backend) {
		op := providertest.StartOIDC(t, []string{corpCallback, "http://localhost:8080/native"}, opUsers...)
		all := append([]harnessOption{withRedirects(), withOIDCProvider(op, "")}, opts...)
		test(t, newHarness(t, b, all...), op)
	})
}

// local turns an absolute URL on latch's public URL into the path the
// test server answers.
func local(u *url.URL) string { return u.RequestURI() }

// providerSignIn drives one sign-in at the provider from a latch page
// that redirects there (start), as the person: latch's redirect to the
// provider, the provider's login page, and the way back to latch's
// callback. It returns latch's answer to the callback.
func providerSignIn(t testing.TB, b *browser, op *providertest.OIDC, start, user, password string) response {
	t.Helper()
	r := b.get(start)
	to := location(t, r)
	if !strings.HasPrefix(to.String(), op.Issuer) {
		t.Fatalf("%s sent the browser to %s, want the provider", start, to)
	}
	back := op.SignIn(t, b.c, to.String(), user, password)
	if back.Path != "/v1/callback/corp" {
		t.Fatalf("the provider came back to %s", back)
	}
	return b.get(local(back))
}

// An application sends the person to the provider (/v1/authorize with
// provider); they sign in there and come back to the application with a
// latch code; the tokens say how they signed in (amr fed, idp).
// RFC 6749 §4.1, OpenID Connect Core §3.1.2 (state, nonce), RFC 7636.
func TestSocialSignInFlow(t *testing.T) {
	forEachSocialHarness(t, func(t *testing.T, h *harness, op *providertest.OIDC) {
		b := h.browser()
		p := newPKCE("social")
		r := providerSignIn(t, b, op, authorizeURL(appRedirect, "app-state", p, "provider", "corp"), "ada", "ada-op-password")
		next := location(t, r)
		if next.Path != "/v1/authorize" || next.Query().Get("provider") != "" {
			t.Fatalf("after the callback: %s, want the authorization request without provider", next)
		}
		if b.cookie("latch_session") == "" {
			t.Fatal("no browser session after the provider's sign-in")
		}
		back := location(t, b.get(local(next)))
		if got := back.Scheme + "://" + back.Host + back.Path; got != appRedirect || back.Query().Get("state") != "app-state" {
			t.Fatalf("back to the app at %s", back)
		}
		tr := h.exchange(back.Query().Get("code"), appRedirect, p.verifier)
		want(t, tr, http.StatusOK, "")
		tk := tr.tokens(t)
		_, claims := jwtParts(t, tk.access)
		if amr, _ := claims["amr"].([]any); len(amr) != 1 || amr[0] != "fed" || claims["idp"] != "corp" {
			t.Fatalf("claims amr %v idp %v; want [fed] corp", claims["amr"], claims["idp"])
		}
		if claims["email"] != "ada@corp.example" || claims["email_verified"] != true {
			t.Fatalf("email %v verified %v", claims["email"], claims["email_verified"])
		}
		u := h.do("GET", "/v1/user", tk.access, nil).json(t)
		ids, _ := u["identities"].([]any)
		if u["has_password"] != false || len(ids) != 1 || ids[0].(map[string]any)["provider"] != "corp" {
			t.Fatalf("GET /v1/user: %v", u)
		}
		// A second sign-in of the same person is the same account.
		b2 := h.browser()
		r = providerSignIn(t, b2, op, "/login/provider/corp", "ada", "ada-op-password")
		if l := location(t, r); l.Path != "/account" {
			t.Fatalf("sign-in from the sign-in page went on to %s, want /account", l)
		}
		if n := len(listUsers(t, h)); n != 1 {
			t.Fatalf("%d users after two sign-ins of one person", n)
		}
	})
}

func listUsers(t testing.TB, h *harness) []string {
	t.Helper()
	users, err := h.auth.ListUsers(t.Context(), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, u := range users {
		ids = append(ids, u.ID)
	}
	return ids
}

// Login CSRF and replay (RFC 6749 §10.12, RFC 9700 §4.7): a callback
// without this browser's flow cookie, with another state, or a second
// time, signs nobody in and never redirects to the application.
func TestSocialCallbackNeedsItsBrowser(t *testing.T) {
	forEachSocialHarness(t, func(t *testing.T, h *harness, op *providertest.OIDC) {
		// The attacker starts a flow and signs in as themself at the
		// provider, but hands the callback to the victim's browser.
		attacker := h.browser()
		to := location(t, attacker.get("/login/provider/corp"))
		back := op.SignIn(t, attacker.c, to.String(), "ada", "ada-op-password")
		victim := h.browser()
		r := victim.get(local(back))
		if r.status != http.StatusBadRequest || victim.cookie("latch_session") != "" {
			t.Fatalf("callback in a browser without the flow cookie: %d, session %q", r.status, victim.cookie("latch_session"))
		}
		// Another state in the right browser.
		q := back.Query()
		q.Set("state", "not-the-state")
		if r := attacker.get(back.Path + "?" + q.Encode()); r.status != http.StatusBadRequest {
			t.Fatalf("callback with another state: %d", r.status)
		}
		// No state at all.
		q.Del("state")
		if r := attacker.get(back.Path + "?" + q.Encode()); r.status != http.StatusBadRequest {
			t.Fatalf("callback without state: %d", r.status)
		}
		// The flow cookie is spent by the first callback: the genuine
		// answer now finds no flow either.
		if r := attacker.get(local(back)); r.status != http.StatusBadRequest {
			t.Fatalf("callback after the flow was spent: %d", r.status)
		}
		if n := len(listUsers(t, h)); n != 0 {
			t.Fatalf("%d users made by refused callbacks", n)
		}
	})
}

// A replayed callback with its flow cookie (copied before it was
// spent) finds the flow's nonce used: one sign-in per flow.
func TestSocialCallbackReplayWithCookie(t *testing.T) {
	forEachSocialHarness(t, func(t *testing.T, h *harness, op *providertest.OIDC) {
		b := h.browser()
		to := location(t, b.get("/login/provider/corp"))
		flow := b.cookie("latch_flow")
		back := op.SignIn(t, b.c, to.String(), "ada", "ada-op-password")
		if r := b.get(local(back)); r.status != http.StatusSeeOther {
			t.Fatalf("first callback: %d %s", r.status, r.body)
		}
		thief := h.browser()
		u, _ := url.Parse(thief.base)
		thief.c.Jar.SetCookies(u, []*http.Cookie{{Name: "latch_flow", Value: flow}})
		if r := thief.get(local(back)); r.status != http.StatusBadRequest || thief.cookie("latch_session") != "" {
			t.Fatalf("replayed callback with the flow cookie: %d", r.status)
		}
	})
}

// The provider's error answer (the person cancelled) goes back to the
// application as RFC 6749 §4.1.2.1 says, with its state; sign-up off
// answers access_denied to a new person.
func TestSocialErrorsReachTheApp(t *testing.T) {
	forEachSocialHarness(t, func(t *testing.T, h *harness, op *providertest.OIDC) {
		b := h.browser()
		to := location(t, b.get(authorizeURL(appRedirect, "s1", newPKCE("x"), "provider", "corp")))
		r := b.get("/v1/callback/corp?" + url.Values{"error": {"access_denied"}, "state": {to.Query().Get("state")}}.Encode())
		back := location(t, r)
		if back.Host != "app.example.com" || back.Query().Get("error") != "access_denied" || back.Query().Get("state") != "s1" {
			t.Fatalf("provider error went to %s", back)
		}
		// An unknown provider is the application's mistake.
		back = location(t, b.get(authorizeURL(appRedirect, "s2", newPKCE("x"), "provider", "nope")))
		if back.Query().Get("error") != "invalid_request" {
			t.Fatalf("unknown provider: %s", back)
		}
	})
	forEachSocialHarness(t, func(t *testing.T, h *harness, op *providertest.OIDC) {
		b := h.browser()
		r := providerSignIn(t, b, op, authorizeURL(appRedirect, "s3", newPKCE("y"), "provider", "corp"), "ada", "ada-op-password")
		back := location(t, r)
		if back.Host != "app.example.com" || back.Query().Get("error") != "access_denied" || back.Query().Get("state") != "s3" {
			t.Fatalf("sign-up off: went to %s", back)
		}
		if n := len(listUsers(t, h)); n != 0 {
			t.Fatalf("%d users made with sign-up off", n)
		}
	}, withEnv("LATCH_SIGNUP", "off"))
}

// A generic provider is not trusted for email (nOAuth): its person
// whose address has an account here must sign in to it first; an
// unverified provider address makes no account.
func TestSocialNeverJoinsOnAnUntrustedWord(t *testing.T) {
	forEachSocialHarness(t, func(t *testing.T, h *harness, op *providertest.OIDC) {
		owner := h.signup("ada@corp.example")
		b := h.browser()
		r := providerSignIn(t, b, op, "/login/provider/corp", "ada", "ada-op-password")
		if r.status != http.StatusConflict || !strings.Contains(string(r.body), "already exists") {
			t.Fatalf("untrusted provider, existing address: %d %s", r.status, r.body)
		}
		u := h.do("GET", "/v1/user", owner.access, nil).json(t)
		if ids, _ := u["identities"].([]any); len(ids) != 0 {
			t.Fatalf("identities after a refused join: %v", ids)
		}
		r = providerSignIn(t, h.browser(), op, "/login/provider/corp", "eve", "eve-op-password")
		if r.status != http.StatusForbidden {
			t.Fatalf("unverified provider address: %d %s", r.status, r.body)
		}
		if n := len(listUsers(t, h)); n != 1 {
			t.Fatalf("%d users; want only the owner", n)
		}
	})
}

// opIDToken gets an ID token for nonce from the provider as a native app
// would (its own code flow with the provider).
func opIDToken(t *testing.T, h *harness, op *providertest.OIDC, nonce string) string {
	t.Helper()
	q := url.Values{"client_id": {op.ClientID}, "redirect_uri": {"http://localhost:8080/native"}, "response_type": {"code"},
		"scope": {"openid email profile"}, "state": {"native-state"}, "nonce": {nonce}}
	var conf struct {
		Auth  string `json:"authorization_endpoint"`
		Token string `json:"token_endpoint"`
	}
	resp, err := http.Get(op.Issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&conf)
	resp.Body.Close()
	back := op.SignIn(t, h.browser().c, conf.Auth+"?"+q.Encode(), "ada", "ada-op-password")
	req, _ := http.NewRequest("POST", conf.Token, strings.NewReader(url.Values{"grant_type": {"authorization_code"}, "code": {back.Query().Get("code")}, "redirect_uri": {"http://localhost:8080/native"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(op.ClientID, op.ClientSecret)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		IDToken string `json:"id_token"`
	}
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &tok); err != nil || tok.IDToken == "" {
		t.Fatalf("no ID token from the provider: %d %s", resp.StatusCode, body)
	}
	return tok.IDToken
}

// The id_token grant (DESIGN.md "Social login", OpenID Connect Core
// §3.1.3.7 and §15.5.2): a native app's ID token from the provider signs
// in; its nonce is required, must match, and is good once.
func TestSocialIDTokenGrant(t *testing.T) {
	forEachSocialHarness(t, func(t *testing.T, h *harness, op *providertest.OIDC) {
		// The test provider puts the address in userinfo only, not in its
		// ID tokens, so a new person could not sign up from one: ada has
		// signed in on the web before.
		providerSignIn(t, h.browser(), op, "/login/provider/corp", "ada", "ada-op-password")
		idt := opIDToken(t, h, op, "native-nonce-1")
		grant := func(nonce string) response {
			return h.do("POST", "/v1/token", "", map[string]any{"grant_type": "id_token", "provider": "corp", "id_token": idt, "nonce": nonce})
		}
		want(t, grant(""), http.StatusBadRequest, "invalid_request")
		want(t, grant("another-nonce"), http.StatusBadRequest, "invalid_grant")
		r := grant("native-nonce-1")
		want(t, r, http.StatusOK, "")
		_, claims := jwtParts(t, r.tokens(t).access)
		if claims["idp"] != "corp" {
			t.Fatalf("idp %v", claims["idp"])
		}
		want(t, grant("native-nonce-1"), http.StatusBadRequest, "invalid_grant") // used

		// Apple's way: the token carries the nonce's SHA-256 and the app
		// gives the raw nonce. The token is good once, whichever form of
		// the nonce comes with it.
		sum := sha256.Sum256([]byte("raw-nonce-2"))
		hashed := hex.EncodeToString(sum[:])
		idt2 := opIDToken(t, h, op, hashed)
		grant2 := func(nonce string) response {
			return h.do("POST", "/v1/token", "", map[string]any{"grant_type": "id_token", "provider": "corp", "id_token": idt2, "nonce": nonce})
		}
		want(t, grant2("raw-nonce-2"), http.StatusOK, "")
		want(t, grant2(hashed), http.StatusBadRequest, "invalid_grant")
		r = h.do("POST", "/v1/token", "", map[string]any{"grant_type": "id_token", "provider": "nope", "id_token": idt, "nonce": "native-nonce-1"})
		want(t, r, http.StatusBadRequest, "invalid_request")
		// A token signed by someone else: the provider's header and
		// claims with another signature.
		parts := strings.Split(idt, ".")
		forged := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
		want(t, h.do("POST", "/v1/token", "", map[string]any{"grant_type": "id_token", "provider": "corp", "id_token": forged, "nonce": "native-nonce-1"}), http.StatusBadRequest, "invalid_grant")
	})
}

// Linking from an application: the link is made only when the app
// redeems the link code with its access token and PKCE verifier; the
// owner is mailed; unlinking refuses to remove the last way in.
func TestSocialLinkFromTheAPI(t *testing.T) {
	forEachSocialHarness(t, func(t *testing.T, h *harness, op *providertest.OIDC) {
		owner := h.signup("grace@example.com")
		p := newPKCE("link")
		r := h.do("POST", "/v1/user/identities", owner.access, map[string]any{"provider": "corp", "redirect_uri": appRedirect, "state": "ls", "code_challenge": p.challenge})
		want(t, r, http.StatusOK, "")
		link, _ := url.Parse(r.str(t, "url"))
		if link.Path != "/v1/link" {
			t.Fatalf("link URL %s", link)
		}
		b := h.browser()
		cb := providerSignIn(t, b, op, local(link), "ada", "ada-op-password")
		back := location(t, cb)
		code := back.Query().Get("link_code")
		if back.Host != "app.example.com" || code == "" || back.Query().Get("state") != "ls" {
			t.Fatalf("link went back to %s", back)
		}
		if ids := h.do("GET", "/v1/user", owner.access, nil).json(t)["identities"].([]any); len(ids) != 0 {
			t.Fatal("linked before the app redeemed the link code")
		}
		// Another user cannot redeem it, nor the owner without the verifier.
		other := h.signup("mallory@example.com")
		want(t, h.do("POST", "/v1/user/identities", other.access, map[string]any{"link_code": code, "code_verifier": p.verifier}), http.StatusBadRequest, "invalid_grant")
		want(t, h.do("POST", "/v1/user/identities", owner.access, map[string]any{"link_code": code, "code_verifier": newPKCE("wrong").verifier}), http.StatusBadRequest, "invalid_grant")
		r = h.do("POST", "/v1/user/identities", owner.access, map[string]any{"link_code": code, "code_verifier": p.verifier})
		want(t, r, http.StatusCreated, "")
		id := r.str(t, "id")
		ids := h.do("GET", "/v1/user", owner.access, nil).json(t)["identities"].([]any)
		if len(ids) != 1 {
			t.Fatalf("identities %v", ids)
		}
		// The linked provider signs the owner in now.
		if l := location(t, providerSignIn(t, h.browser(), op, "/login/provider/corp", "ada", "ada-op-password")); l.Path != "/account" {
			t.Fatalf("sign-in with the linked provider went to %s", l)
		}
		if n := len(listUsers(t, h)); n != 2 {
			t.Fatalf("%d users; the linked identity made an account", n)
		}
		// The same identity cannot be linked to another user.
		p2 := newPKCE("link2")
		r = h.do("POST", "/v1/user/identities", other.access, map[string]any{"provider": "corp", "redirect_uri": appRedirect, "code_challenge": p2.challenge})
		link, _ = url.Parse(r.str(t, "url"))
		back = location(t, providerSignIn(t, h.browser(), op, local(link), "ada", "ada-op-password"))
		want(t, h.do("POST", "/v1/user/identities", other.access, map[string]any{"link_code": back.Query().Get("link_code"), "code_verifier": p2.verifier}), http.StatusConflict, "identity_taken")
		// Unlink beside a password: fine.
		want(t, h.do("DELETE", "/v1/user/identities/"+id, owner.access, nil), http.StatusNoContent, "")
		want(t, h.do("DELETE", "/v1/user/identities/"+id, owner.access, nil), http.StatusNotFound, "not_found")
	})
}

// Linking needs a fresh proof (DESIGN.md: a recent sign-in or the
// current password), and a registered redirect URI; a provider-only
// user cannot remove their only way in (409 last_sign_in_method).
func TestSocialLinkAndUnlinkRules(t *testing.T) {
	forEachSocialHarness(t, func(t *testing.T, h *harness, op *providertest.OIDC) {
		owner := h.signup("old@example.com")
		p := newPKCE("rules")
		req := map[string]any{"provider": "corp", "redirect_uri": "https://evil.example/cb", "code_challenge": p.challenge}
		want(t, h.do("POST", "/v1/user/identities", owner.access, req), http.StatusBadRequest, "invalid_request")
		req["redirect_uri"] = appRedirect
		req["provider"] = "nope"
		want(t, h.do("POST", "/v1/user/identities", owner.access, req), http.StatusBadRequest, "invalid_request")
		req["provider"] = "corp"
		h.clock.Advance(10 * time.Minute) // the sign-up is no longer recent
		want(t, h.do("POST", "/v1/user/identities", owner.access, req), http.StatusUnauthorized, "insufficient_user_authentication")
		req["current_password"] = "wrong password entirely"
		want(t, h.do("POST", "/v1/user/identities", owner.access, req), http.StatusBadRequest, "invalid_grant")
		req["current_password"] = goodPassword
		want(t, h.do("POST", "/v1/user/identities", owner.access, req), http.StatusOK, "")

		// A provider-only user cannot remove their only way in.
		p2 := newPKCE("only")
		b := h.browser()
		providerSignIn(t, b, op, authorizeURL(appRedirect, "s", p2, "provider", "corp"), "bob", "bob-op-password")
		back := location(t, b.get(authorizeURL(appRedirect, "s", p2)))
		bob := h.exchange(back.Query().Get("code"), appRedirect, p2.verifier).tokens(t)
		u := h.do("GET", "/v1/user", bob.access, nil).json(t)
		ids, _ := u["identities"].([]any)
		if len(ids) != 1 || u["has_password"] != false {
			t.Fatalf("provider-only user: %v", u)
		}
		id := ids[0].(map[string]any)["id"].(string)
		want(t, h.do("DELETE", "/v1/user/identities/"+id, bob.access, nil), http.StatusConflict, "last_sign_in_method")
		want(t, h.do("DELETE", "/v1/user/identities/"+id, owner.access, nil), http.StatusNotFound, "not_found") // not the owner's
	})
}

// The account page lists linked providers and links one through the
// provider; a provider-only account cannot remove its last way in.
func TestSocialAccountPage(t *testing.T) {
	forEachSocialHarness(t, func(t *testing.T, h *harness, op *providertest.OIDC) {
		b := h.browser()
		signUpInBrowser(t, b, "page@example.com")
		page := b.get("/account")
		if !strings.Contains(string(page.body), "Link Corp SSO") {
			t.Fatalf("the account page offers no link: %s", page.body)
		}
		r := b.post("/account/identities/link", url.Values{"provider": {"corp"}})
		if r.status != http.StatusOK || !strings.Contains(string(r.body), `http-equiv="refresh"`) {
			t.Fatalf("link: %d %s", r.status, r.body)
		}
		to := refreshTarget(t, r)
		back := op.SignIn(t, b.c, to, "ada", "ada-op-password")
		done := b.get(local(back))
		if l := location(t, done); l.String() != "/account?done=linked" {
			t.Fatalf("after linking: %s", l)
		}
		page = b.get("/account?done=linked")
		if !strings.Contains(string(page.body), "Corp SSO") || !strings.Contains(string(page.body), "ada@corp.example") || !strings.Contains(string(page.body), "The provider is linked") {
			t.Fatalf("the account page does not show the link: %s", page.body)
		}

		// A provider-only account: the page has no Remove button for its
		// only way in, and says why; a POST all the same is refused.
		c := h.browser()
		providerSignIn(t, c, op, "/login/provider/corp", "bob", "bob-op-password")
		page = c.get("/account")
		body := string(page.body)
		if strings.Contains(body, "/account/identities/unlink") || !strings.Contains(body, "only way to sign in") {
			t.Fatalf("provider-only account page: %s", body)
		}
		ids, _ := h.auth.Identities(t.Context(), listUsers(t, h)[1])
		r = c.post("/account/identities/unlink", url.Values{"id": {ids[0].ID}})
		if r.status != http.StatusConflict || !strings.Contains(string(r.body), "only way to sign in") {
			t.Fatalf("removing the last way in: %d %s", r.status, r.body)
		}
	})
}

func refreshTarget(t *testing.T, r response) string {
	t.Helper()
	i := strings.Index(string(r.body), `content="0;url=`)
	if i < 0 {
		t.Fatalf("no refresh in %s", r.body)
	}
	rest := string(r.body[i+len(`content="0;url=`):])
	j := strings.Index(rest, `"`)
	return html.UnescapeString(rest[:j])
}

// A person who signed up with a provider sets a password later through
// "Forgot password?", and then signs in with either; linking mails the
// owner (DESIGN.md "Social login": "the owner is mailed").
func TestSocialUserSetsAPassword(t *testing.T) {
	forEachSocialHarness(t, func(t *testing.T, h *harness, op *providertest.OIDC) {
		providerSignIn(t, h.browser(), op, "/login/provider/corp", "ada", "ada-op-password")
		want(t, h.do("POST", "/v1/recover", "", map[string]any{"email": "ada@corp.example"}), http.StatusAccepted, "")
		tok := linkToken(t, h.mailTo("ada@corp.example", "reset"), h.cfg.HTTP.PublicURL, "recover")
		want(t, h.do("POST", "/v1/recover/confirm", "", map[string]any{"token": tok, "password": goodPassword}), http.StatusNoContent, "")
		tk := h.login("ada@corp.example", goodPassword).tokens(t)
		u := h.do("GET", "/v1/user", tk.access, nil).json(t)
		if ids, _ := u["identities"].([]any); u["has_password"] != true || len(ids) != 1 {
			t.Fatalf("after setting a password: %v", u)
		}

		// Linking a second account mails the owner.
		owner := h.signup("linker@example.com")
		p := newPKCE("mail")
		r := h.do("POST", "/v1/user/identities", owner.access, map[string]any{"provider": "corp", "redirect_uri": appRedirect, "code_challenge": p.challenge})
		link, _ := url.Parse(r.str(t, "url"))
		back := location(t, providerSignIn(t, h.browser(), op, local(link), "bob", "bob-op-password"))
		want(t, h.do("POST", "/v1/user/identities", owner.access, map[string]any{"link_code": back.Query().Get("link_code"), "code_verifier": p.verifier}), http.StatusCreated, "")
		m := h.mailTo("linker@example.com", "linked to Corp SSO")
		if !strings.Contains(m.Text, "You can now sign in with Corp SSO") {
			t.Fatalf("link notice: %s", m.Text)
		}
	}, withSMTP())
}

// A provider that goes down mid-flow: the application hears
// temporarily_unavailable (RFC 6749 §4.1.2.1) and a person on latch's
// own pages reads that the provider cannot be reached; nobody is signed
// in and nothing hangs.
func TestSocialProviderDown(t *testing.T) {
	forEachSocialHarness(t, func(t *testing.T, h *harness, op *providertest.OIDC) {
		b := h.browser()
		to := location(t, b.get(authorizeURL(appRedirect, "down", newPKCE("down"), "provider", "corp")))
		back := op.SignIn(t, b.c, to.String(), "ada", "ada-op-password")
		op.Server.Close()
		start := time.Now()
		app := location(t, b.get(local(back)))
		if app.Host != "app.example.com" || app.Query().Get("error") != "temporarily_unavailable" || app.Query().Get("state") != "down" {
			t.Fatalf("provider down: went to %s", app)
		}
		if d := time.Since(start); d > 15*time.Second {
			t.Fatalf("the callback took %s with the provider down", d)
		}

		c := h.browser()
		r := c.get("/login/provider/corp")
		if r.status == http.StatusFound {
			// Discovery was done before the provider went down: the
			// flow starts, and the callback finds it unreachable.
			r = c.get("/v1/callback/corp?" + url.Values{"code": {"x"}, "state": {location(t, r).Query().Get("state")}}.Encode())
		}
		if r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), "cannot be reached") {
			t.Fatalf("provider down, on the pages: %d %s", r.status, r.body)
		}
		if c.cookie("latch_session") != "" {
			t.Fatal("signed in with the provider down")
		}
	})
}

// Keycloak's first broker login, with a question: the person whose
// provider may not join an existing account signs in to that account in
// the same browser and is asked whether to link the provider; only a
// yes links it, and only that browser is asked.
func TestSocialSignInFirstThenLink(t *testing.T) {
	forEachSocialHarness(t, func(t *testing.T, h *harness, op *providertest.OIDC) {
		owner := h.signup("ada@corp.example")
		b := h.browser()
		if r := providerSignIn(t, b, op, "/login/provider/corp", "ada", "ada-op-password"); r.status != http.StatusConflict {
			t.Fatalf("untrusted provider, existing address: %d", r.status)
		}
		// Another browser signing in is not asked.
		other := h.browser()
		other.get("/login")
		if l := location(t, other.post("/login", url.Values{"email": {"ada@corp.example"}, "password": {goodPassword}})); l.Path != "/account" {
			t.Fatalf("a browser without the pending link went to %s", l)
		}
		// "Not now" links nothing and asks no more.
		b.get("/login")
		r := b.post("/login", url.Values{"email": {"ada@corp.example"}, "password": {goodPassword}})
		offer := location(t, r)
		if offer.Path != "/login/link" {
			t.Fatalf("after signing in: %s, want the link offer", offer)
		}
		page := b.get(local(offer))
		if !strings.Contains(string(page.body), "Link Corp SSO") {
			t.Fatalf("the offer: %s", page.body)
		}
		if l := location(t, b.post("/login/link", url.Values{"link": {"no"}, "continue": {"/account"}})); l.Path != "/account" {
			t.Fatalf("after no: %s", l)
		}
		ids := func() int {
			return len(h.do("GET", "/v1/user", owner.access, nil).json(t)["identities"].([]any))
		}
		if ids() != 0 {
			t.Fatal("linked after no")
		}
		// Again, and yes: linked; the provider now signs the owner in.
		c := h.browser()
		providerSignIn(t, c, op, "/login/provider/corp", "ada", "ada-op-password")
		c.get("/login")
		offer = location(t, c.post("/login", url.Values{"email": {"ada@corp.example"}, "password": {goodPassword}}))
		c.get(local(offer))
		if l := location(t, c.post("/login/link", url.Values{"link": {"yes"}, "continue": {"/account"}})); l.Path != "/account" {
			t.Fatalf("after yes: %s", l)
		}
		if ids() != 1 {
			t.Fatal("not linked after yes")
		}
		if l := location(t, providerSignIn(t, h.browser(), op, "/login/provider/corp", "ada", "ada-op-password")); l.Path != "/account" {
			t.Fatalf("the linked provider signs in to %s", l)
		}
	})
}

// A person who signs in with a provider and has an authenticator app
// gets no token from the provider alone: the id_token grant answers
// mfa_required, and the browser's callback goes to the second step
// instead of a session (DESIGN.md: no token below the account's level
// from any sign-in path; NIST SP 800-63B §4.2.1).
func TestSocialSignInAsksForTheSecondStep(t *testing.T) {
	forEachSocialHarness(t, func(t *testing.T, h *harness, op *providertest.OIDC) {
		providerSignIn(t, h.browser(), op, "/login/provider/corp", "ada", "ada-op-password")
		r := h.do("POST", "/v1/token", "", map[string]any{"grant_type": "id_token", "provider": "corp", "id_token": opIDToken(t, h, op, "nonce-a"), "nonce": "nonce-a"})
		want(t, r, http.StatusOK, "")
		access := r.tokens(t).access
		r = h.do("POST", "/v1/factors", access, map[string]any{"type": "totp"})
		want(t, r, http.StatusCreated, "")
		id, secret := r.str(t, "id"), decodeSecret(t, r.str(t, "secret"))
		want(t, h.do("POST", "/v1/factors/"+id+"/verify", access, map[string]any{"code": totpAt(secret, h.clock.Now())}), http.StatusOK, "")

		r = h.do("POST", "/v1/token", "", map[string]any{"grant_type": "id_token", "provider": "corp", "id_token": opIDToken(t, h, op, "nonce-b"), "nonce": "nonce-b"})
		want(t, r, http.StatusForbidden, "mfa_required")
		h.clock.Advance(30 * time.Second)
		r = h.mfa(map[string]any{"mfa_token": r.str(t, "mfa_token"), "factor_id": id, "code": totpAt(secret, h.clock.Now())})
		want(t, r, http.StatusOK, "")
		if c := claimsOf(t, r.str(t, "access_token")); !slices.Equal(amrOf(c), []string{"fed", "otp", "mfa"}) || c["aal"] != "aal2" || c["idp"] != "corp" {
			t.Fatalf("provider + app: amr %v aal %v idp %v", c["amr"], c["aal"], c["idp"])
		}

		// The browser: the callback sends it to the second step.
		back := providerSignIn(t, h.browser(), op, "/login/provider/corp", "ada", "ada-op-password")
		if back.status != http.StatusSeeOther || !strings.HasPrefix(back.header.Get("Location"), "/login/mfa") {
			t.Fatalf("callback of a person with an app: %d to %q; want 303 to /login/mfa", back.status, back.header.Get("Location"))
		}
	})
}
