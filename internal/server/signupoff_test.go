package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// LATCH_SIGNUP=off: nobody creates an account on their own, by the API
// or the pages, and the sign-in page offers no sign-up; an invitation
// (latch user invite) creates the account and mails a set-password link
// to /invite that works once.
func TestSignupOffAndInvitations(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		const addr = "invited@example.com"
		want(t, h.do("POST", "/v1/signup", "", map[string]any{"email": addr, "password": goodPassword}), http.StatusForbidden, "signup_disabled")
		b := h.browser()
		if r := b.get("/login"); strings.Contains(string(r.body), `href="/signup`) {
			t.Error("the sign-in page links to sign-up while it is off")
		}
		want(t, b.get("/signup"), http.StatusForbidden, "")
		b.get("/login")
		want(t, b.post("/signup", url.Values{"email": {addr}, "password": {goodPassword}}), http.StatusForbidden, "")
		if _, err := h.db.GetUserByEmail(context.Background(), addr); err == nil {
			t.Fatal("an account was created while sign-up is off")
		}

		if _, err := h.auth.Invite(context.Background(), addr); err != nil {
			t.Fatalf("Invite: %v", err)
		}
		h.sendMail()
		tok := linkToken(t, h.mailTo(addr, "invited"), h.cfg.HTTP.PublicURL, "invite")
		want(t, h.login(addr, goodPassword), http.StatusBadRequest, "invalid_grant")
		r := b.get("/invite?token=" + tok)
		if r.status != http.StatusOK || !strings.Contains(string(r.body), `autocomplete="new-password"`) {
			t.Fatalf("GET /invite: %d\n%s", r.status, r.body)
		}
		r = b.post("/invite", url.Values{"token": {tok}, "password": {goodPassword}})
		want(t, r, http.StatusOK, "")
		want(t, h.login(addr, goodPassword), http.StatusOK, "")
		b.get("/invite?token=" + tok)
		if r := b.post("/invite", url.Values{"token": {tok}, "password": {"another long passphrase"}}); r.status != http.StatusBadRequest {
			t.Fatalf("a used invitation link: %d", r.status)
		}
		// Inviting an account that has a password is refused.
		if _, err := h.auth.Invite(context.Background(), addr); err == nil {
			t.Fatal("Invite of an account with a password succeeded")
		}
	}, withSMTP(), withEnv("LATCH_SIGNUP", "off"))
}
