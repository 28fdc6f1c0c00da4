package server_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/mail/mailtest"
	"github.com/latchauth/latch/internal/store"
)

// The email flows, through the real router and a real SMTP conversation
// with a server on loopback: every message is read as delivered and its
// link followed, as a user would.

// mailTo delivers the outbox and returns the oldest message to addr,
// whose subject contains subject, that no earlier call returned. Delivery
// is synchronous: once SendMail returns, the server has accepted the
// message.
func (h *harness) mailTo(addr, subject string) mailtest.Received {
	h.t.Helper()
	h.sendMail()
	msgs := h.smtp.Messages()
	for i, m := range msgs {
		if h.taken[i] || len(m.To) != 1 || m.To[0] != addr || !strings.Contains(strings.ToLower(m.Subject), strings.ToLower(subject)) {
			continue
		}
		h.taken[i] = true
		return m
	}
	var got []string
	for _, m := range msgs {
		got = append(got, strings.Join(m.To, ",")+": "+m.Subject)
	}
	h.t.Fatalf("no new message to %s about %q; delivered: %q", addr, subject, got)
	return mailtest.Received{}
}

// linkToken returns the token of the link to page in a message, and checks
// that the link is built on base (the configured URL, never the request's
// Host).
func linkToken(t *testing.T, m mailtest.Received, base, page string) string {
	t.Helper()
	link := m.Link(base + "/" + page + "?token=")
	if link == "" {
		t.Fatalf("no %s/%s link in the message %q:\n%s", base, page, m.Subject, m.Text)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	tok := u.Query().Get("token")
	if len(tok) != 43 {
		t.Fatalf("link token %q: want 43 characters (256 bits)", tok)
	}
	if m.HTML != "" && !strings.Contains(m.HTML, tok) {
		t.Errorf("the HTML part lacks the link")
	}
	return tok
}

var codeRE = regexp.MustCompile(`\b(\d{6})\b`)

func (h *harness) messagesTo(addr string) int {
	n := 0
	for _, m := range h.smtp.Messages() {
		if len(m.To) == 1 && m.To[0] == addr {
			n++
		}
	}
	return n
}

// sameAnswer checks that two answers cannot be told apart: status, body
// and every header but those that differ per request.
func sameAnswer(t *testing.T, what string, a, b response) {
	t.Helper()
	if a.status != b.status || string(a.body) != string(b.body) {
		t.Fatalf("%s: answers differ: %d %s vs %d %s", what, a.status, a.body, b.status, b.body)
	}
	for k := range a.header {
		if k == "Date" || k == "X-Request-Id" {
			continue
		}
		if a.header.Get(k) != b.header.Get(k) {
			t.Errorf("%s: header %s differs: %q vs %q", what, k, a.header.Get(k), b.header.Get(k))
		}
	}
	if len(a.header) != len(b.header) {
		t.Errorf("%s: header sets differ: %v vs %v", what, a.header, b.header)
	}
}

// TestVerifyFlow: with SMTP configured, verification is required by
// default: signup answers 202, login of the unverified account 403
// email_not_verified, the link verifies and signs in, once (ASVS 5.0
// V6.4.1: single use).
func TestVerifyFlow(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		const addr = "new@example.com"
		r := h.do("POST", "/v1/signup", "", map[string]any{"email": addr, "password": goodPassword})
		want(t, r, http.StatusAccepted, "")
		if r.str(t, "status") != "verification_sent" {
			t.Fatalf("signup: %s", r.body)
		}
		want(t, h.login(addr, goodPassword), http.StatusForbidden, "email_not_verified")

		m := h.mailTo(addr, "confirm")
		tok := linkToken(t, m, h.cfg.HTTP.PublicURL, "verify")
		r = h.do("POST", "/v1/verify", "", map[string]any{"token": tok, "password": goodPassword})
		want(t, r, http.StatusOK, "")
		tk := r.tokens(t)
		if v, _ := r.json(t)["user"].(map[string]any)["email_verified"].(bool); !v {
			t.Errorf("user after verify: %s", r.body)
		}
		_, claims := jwtParts(t, tk.access)
		if claims["email_verified"] != true {
			t.Errorf("access token email_verified: %v", claims["email_verified"])
		}
		want(t, h.do("GET", "/v1/user", tk.access, nil), http.StatusOK, "")
		// Replay.
		want(t, h.do("POST", "/v1/verify", "", map[string]any{"token": tok, "password": goodPassword}), http.StatusBadRequest, "invalid_grant")
		want(t, h.login(addr, goodPassword), http.StatusOK, "")
		// Wrong and malformed tokens.
		want(t, h.do("POST", "/v1/verify", "", map[string]any{"token": strings.Repeat("A", 43)}), http.StatusBadRequest, "invalid_grant")
		want(t, h.do("POST", "/v1/verify", "", map[string]any{"token": "short"}), http.StatusBadRequest, "invalid_grant")
		want(t, h.do("POST", "/v1/verify", "", map[string]any{}), http.StatusBadRequest, "invalid_request")
	}, withSMTP())
}

// TestVerifyExpiryAndResend: a verification link dies after its lifetime;
// resend sends a new one, and answers alike for any address.
func TestVerifyExpiryAndResend(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		const addr = "late@example.com"
		want(t, h.do("POST", "/v1/signup", "", map[string]any{"email": addr, "password": goodPassword}), http.StatusAccepted, "")
		old := linkToken(t, h.mailTo(addr, "confirm"), h.cfg.HTTP.PublicURL, "verify")
		h.clock.Advance(24*time.Hour + time.Second)
		want(t, h.do("POST", "/v1/verify", "", map[string]any{"token": old}), http.StatusBadRequest, "invalid_grant")

		known := h.do("POST", "/v1/verify/resend", "", map[string]any{"email": addr})
		unknown := h.do("POST", "/v1/verify/resend", "", map[string]any{"email": "nobody@example.com"})
		want(t, known, http.StatusAccepted, "")
		sameAnswer(t, "resend", known, unknown)
		tok := linkToken(t, h.mailTo(addr, "confirm"), h.cfg.HTTP.PublicURL, "verify")
		if h.messagesTo("nobody@example.com") != 0 {
			t.Fatal("a message went to an address without an account")
		}
		want(t, h.do("POST", "/v1/verify", "", map[string]any{"token": tok, "password": goodPassword}), http.StatusOK, "")
		// Verified: a further resend sends nothing.
		want(t, h.do("POST", "/v1/verify/resend", "", map[string]any{"email": addr}), http.StatusAccepted, "")
		if n := h.sendMail(); n != 0 {
			t.Fatalf("resend to a verified address delivered %d messages", n)
		}
	}, withSMTP())
}

// TestSignupEnumeration: with verification on, signing up with a taken
// address answers exactly like a new one (ASVS 5.0 V6.3.8); the owner is
// told by mail, with a reset link.
func TestSignupEnumeration(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		first := h.do("POST", "/v1/signup", "", map[string]any{"email": "taken@example.com", "password": goodPassword})
		h.mailTo("taken@example.com", "confirm")
		again := h.do("POST", "/v1/signup", "", map[string]any{"email": "taken@example.com", "password": "another long passphrase"})
		fresh := h.do("POST", "/v1/signup", "", map[string]any{"email": "fresh@example.com", "password": goodPassword})
		sameAnswer(t, "signup new vs taken", again, fresh)
		sameAnswer(t, "signup first vs taken", first, again)
		m := h.mailTo("taken@example.com", "sign up")
		linkToken(t, m, h.cfg.HTTP.PublicURL, "recover")
	}, withSMTP())
}

// TestRecoverFlow: forgot password → link → new password: every session
// ends, throttling is cleared, the link works once, it does not sign in,
// and the owner is told (OWASP Forgot Password cheat sheet; ASVS 5.0
// V6.4.2–V6.4.3).
func TestRecoverFlow(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		const addr = "forgetful@example.com"
		s1 := h.signup(addr)
		s2 := h.login(addr, goodPassword).tokens(t)
		// Throttle the account from this address.
		for range 8 {
			h.login(addr, "wrong password guess")
		}
		want(t, h.login(addr, goodPassword), http.StatusTooManyRequests, "rate_limited")

		r := h.do("POST", "/v1/recover", "", map[string]any{"email": addr})
		want(t, r, http.StatusAccepted, "")
		if r.str(t, "status") != "recovery_sent" {
			t.Fatalf("recover: %s", r.body)
		}
		tok := linkToken(t, h.mailTo(addr, "reset"), h.cfg.HTTP.PublicURL, "recover")

		// The policy applies; a refused password leaves the link usable.
		r = h.do("POST", "/v1/recover/confirm", "", map[string]any{"token": tok, "password": "password"})
		want(t, r, http.StatusUnprocessableEntity, "weak_password")
		want(t, h.do("POST", "/v1/recover/confirm", "", map[string]any{"token": tok}), http.StatusBadRequest, "invalid_request")
		const newPW = "a brand new passphrase"
		r = h.do("POST", "/v1/recover/confirm", "", map[string]any{"token": tok, "password": newPW})
		want(t, r, http.StatusNoContent, "")
		if len(r.body) != 0 {
			t.Errorf("reset signed in or said too much: %s", r.body)
		}
		// Every session ended.
		for _, s := range []tokens{s1, s2} {
			want(t, h.do("GET", "/v1/user", s.access, nil), http.StatusUnauthorized, "invalid_token")
			want(t, h.refresh(s.refresh), http.StatusBadRequest, "invalid_grant")
		}
		// Replay.
		want(t, h.do("POST", "/v1/recover/confirm", "", map[string]any{"token": tok, "password": "yet another passphrase"}), http.StatusBadRequest, "invalid_grant")
		// Throttling cleared; the old password is dead, the new one works.
		want(t, h.login(addr, goodPassword), http.StatusBadRequest, "invalid_grant")
		want(t, h.login(addr, newPW), http.StatusOK, "")
		h.mailTo(addr, "password was changed")
	}, withSMTP(), withEnv("LATCH_SIGNUP_REQUIRE_VERIFICATION", "off"))
}

// TestRecoverEnumeration: /v1/recover answers an unknown address exactly
// like a known one, and sends nothing to it (ASVS 5.0 V6.3.8).
func TestRecoverEnumeration(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		h.signup("known@example.com")
		known := h.do("POST", "/v1/recover", "", map[string]any{"email": "known@example.com"})
		unknown := h.do("POST", "/v1/recover", "", map[string]any{"email": "unknown@example.com"})
		sameAnswer(t, "recover", known, unknown)
		form := h.do("POST", "/v1/recover", "", url.Values{"email": {"unknown@example.com"}})
		sameAnswer(t, "recover (form)", known, form)
		if n := h.sendMail(); n != 1 {
			t.Fatalf("delivered %d messages, want 1", n)
		}
		if h.messagesTo("unknown@example.com") != 0 {
			t.Fatal("a message went to an address without an account")
		}
		want(t, h.do("POST", "/v1/recover", "", map[string]any{"email": "not an address"}), http.StatusBadRequest, "invalid_request")
	}, withSMTP(), withEnv("LATCH_SIGNUP_REQUIRE_VERIFICATION", "off"))
}

// TestLinkInvalidation: a reset link expires after an hour and dies when
// the password changes by another way or another link is used first
// (ASVS 5.0 V6.4.1; OWASP Forgot Password cheat sheet).
func TestLinkInvalidation(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		const addr = "links@example.com"
		h.signup(addr)
		ask := func() string {
			t.Helper()
			want(t, h.do("POST", "/v1/recover", "", map[string]any{"email": addr}), http.StatusAccepted, "")
			return linkToken(t, h.mailTo(addr, "reset"), h.cfg.HTTP.PublicURL, "recover")
		}
		expired := ask()
		h.clock.Advance(time.Hour + time.Second)
		want(t, h.do("POST", "/v1/recover/confirm", "", map[string]any{"token": expired, "password": "some new passphrase"}), http.StatusBadRequest, "invalid_grant")

		beforeChange := ask()
		h.clock.Advance(time.Second)
		s := h.login(addr, goodPassword).tokens(t)
		want(t, h.do("PATCH", "/v1/user", s.access, map[string]any{"password": "changed passphrase here", "current_password": goodPassword}), http.StatusOK, "")
		want(t, h.do("POST", "/v1/recover/confirm", "", map[string]any{"token": beforeChange, "password": "some new passphrase"}), http.StatusBadRequest, "invalid_grant")

		h.clock.Advance(time.Second)
		a, b2 := ask(), ask()
		h.clock.Advance(time.Second)
		want(t, h.do("POST", "/v1/recover/confirm", "", map[string]any{"token": b2, "password": "some new passphrase"}), http.StatusNoContent, "")
		want(t, h.do("POST", "/v1/recover/confirm", "", map[string]any{"token": a, "password": "other new passphrase"}), http.StatusBadRequest, "invalid_grant")
	}, withSMTP(), withEnv("LATCH_SIGNUP_REQUIRE_VERIFICATION", "off"))
}

// TestLinksIgnoreHost: links are built from LATCH_PUBLIC_URL only; a
// forged Host or X-Forwarded-Host never reaches a message (OWASP Forgot
// Password cheat sheet: "do not rely on the Host header").
func TestLinksIgnoreHost(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		h.signup("host@example.com")
		r := h.do("POST", "/v1/recover", "", map[string]any{"email": "host@example.com"}, "Host", "evil.example", "X-Forwarded-Host", "evil.example", "Forwarded", "host=evil.example")
		want(t, r, http.StatusAccepted, "")
		m := h.mailTo("host@example.com", "reset")
		if strings.Contains(string(m.Raw), "evil.example") {
			t.Fatalf("the forged host reached the message:\n%s", m.Raw)
		}
		linkToken(t, m, "https://auth.example.com", "recover")
	}, withSMTP(), withEnv("LATCH_SIGNUP_REQUIRE_VERIFICATION", "off", "LATCH_PUBLIC_URL", "https://auth.example.com"))
}

// TestEmailChange: the change needs the current password or a recent
// sign-in, sends a link to the new address and a notice to the old one,
// and happens only when the link is followed (ASVS 5.0 V6.4; OWASP
// Authentication cheat sheet, "Changing A User's Registered Email").
func TestEmailChange(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		const oldAddr, newAddr = "old@example.com", "new@example.com"
		s := h.signup(oldAddr)
		h.signup("other@example.com")
		h.clock.Advance(6 * time.Minute)

		want(t, h.do("PATCH", "/v1/user", s.access, map[string]any{"email": newAddr}), http.StatusBadRequest, "invalid_request")
		want(t, h.do("PATCH", "/v1/user", s.access, map[string]any{"email": newAddr, "current_password": "wrong password here"}), http.StatusBadRequest, "invalid_grant")
		want(t, h.do("PATCH", "/v1/user", s.access, map[string]any{"email": oldAddr, "current_password": goodPassword}), http.StatusBadRequest, "invalid_request")
		want(t, h.do("PATCH", "/v1/user", s.access, map[string]any{"email": "nope", "current_password": goodPassword}), http.StatusBadRequest, "invalid_request")
		r := h.do("PATCH", "/v1/user", s.access, map[string]any{"email": newAddr, "current_password": goodPassword})
		want(t, r, http.StatusAccepted, "")
		if r.str(t, "email") != oldAddr {
			t.Fatalf("the address changed before confirmation: %s", r.body)
		}
		notice := h.mailTo(oldAddr, "change")
		if !strings.Contains(notice.Text, newAddr) {
			t.Errorf("notice to the old address does not name the new one:\n%s", notice.Text)
		}
		if notice.Link(h.cfg.HTTP.PublicURL+"/email-change?token=") != "" {
			t.Error("the old address received the confirmation link")
		}
		tok := linkToken(t, h.mailTo(newAddr, "confirm"), h.cfg.HTTP.PublicURL, "email-change")
		if got := h.do("GET", "/v1/user", s.access, nil).str(t, "email"); got != oldAddr {
			t.Fatalf("address before confirmation: %s", got)
		}
		r = h.do("POST", "/v1/user/email/confirm", "", map[string]any{"token": tok})
		want(t, r, http.StatusOK, "")
		if r.str(t, "email") != newAddr {
			t.Fatalf("confirm: %s", r.body)
		}
		want(t, h.do("POST", "/v1/user/email/confirm", "", map[string]any{"token": tok}), http.StatusBadRequest, "invalid_grant")
		want(t, h.login(newAddr, goodPassword), http.StatusOK, "")
		want(t, h.login(oldAddr, goodPassword), http.StatusBadRequest, "invalid_grant")

		// A taken address: same answer, and the new address hears that
		// nothing was changed instead of getting a link. A sign-in just
		// now is no proof for a user who has a password: it is asked for.
		s2 := h.login(newAddr, goodPassword).tokens(t)
		want(t, h.do("PATCH", "/v1/user", s2.access, map[string]any{"email": "other@example.com"}), http.StatusBadRequest, "invalid_request")
		r = h.do("PATCH", "/v1/user", s2.access, map[string]any{"email": "other@example.com", "current_password": goodPassword})
		want(t, r, http.StatusAccepted, "")
		m := h.mailTo("other@example.com", "")
		if m.Link(h.cfg.HTTP.PublicURL+"/email-change?token=") != "" {
			t.Fatalf("a taken address got a confirmation link:\n%s", m.Text)
		}
	}, withSMTP(), withEnv("LATCH_SIGNUP_REQUIRE_VERIFICATION", "off"))
}

// TestEmailChangeLinkDiesWithOtherChange: a confirmation link dies when
// the password changes before it is followed.
func TestEmailChangeLinkDiesWithPasswordChange(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		s := h.signup("a@example.com")
		want(t, h.do("PATCH", "/v1/user", s.access, map[string]any{"email": "b@example.com", "current_password": goodPassword}), http.StatusAccepted, "")
		tok := linkToken(t, h.mailTo("b@example.com", "confirm"), h.cfg.HTTP.PublicURL, "email-change")
		h.clock.Advance(time.Second)
		want(t, h.do("PATCH", "/v1/user", s.access, map[string]any{"password": "changed passphrase here", "current_password": goodPassword}), http.StatusOK, "")
		want(t, h.do("POST", "/v1/user/email/confirm", "", map[string]any{"token": tok}), http.StatusBadRequest, "invalid_grant")
	}, withSMTP(), withEnv("LATCH_SIGNUP_REQUIRE_VERIFICATION", "off"))
}

// TestPasswordless: a code (and, with LATCH_APP_URL, a link) signs in
// once, with amr ["otp"]; five wrong codes kill it; unknown addresses get
// the same answer and no message (NIST SP 800-63B §5.1.3 out-of-band
// secrets: single use, short lifetime, limited attempts).
func TestPasswordless(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		const addr = "codes@example.com"
		h.signup(addr)
		known := h.do("POST", "/v1/otp", "", map[string]any{"email": addr})
		unknown := h.do("POST", "/v1/otp", "", map[string]any{"email": "stranger@example.com"})
		want(t, known, http.StatusAccepted, "")
		sameAnswer(t, "otp", known, unknown)
		m := h.mailTo(addr, "code")
		if h.messagesTo("stranger@example.com") != 0 {
			t.Fatal("a code went to an address without an account")
		}
		code := codeRE.FindString(m.Text)
		if code == "" {
			t.Fatalf("no code in:\n%s", m.Text)
		}
		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		grant := func(body map[string]any) response {
			body["grant_type"] = "otp"
			return h.do("POST", "/v1/token", "", body)
		}
		want(t, grant(map[string]any{"email": addr, "code": wrong}), http.StatusBadRequest, "invalid_grant")
		want(t, grant(map[string]any{"email": addr, "code": "12ab56"}), http.StatusBadRequest, "invalid_grant")
		r := grant(map[string]any{"email": addr, "code": code})
		want(t, r, http.StatusOK, "")
		_, claims := jwtParts(t, r.tokens(t).access)
		if amr, _ := claims["amr"].([]any); len(amr) != 1 || amr[0] != "otp" {
			t.Errorf("amr: %v", claims["amr"])
		}
		want(t, grant(map[string]any{"email": addr, "code": code}), http.StatusBadRequest, "invalid_grant")

		// The link form of the same message kind.
		want(t, h.do("POST", "/v1/otp", "", map[string]any{"email": addr}), http.StatusAccepted, "")
		m = h.mailTo(addr, "code")
		tok := linkToken(t, m, "https://app.example.com", "otp")
		want(t, grant(map[string]any{"token": tok}), http.StatusOK, "")
		want(t, grant(map[string]any{"token": tok}), http.StatusBadRequest, "invalid_grant")

		// Five wrong codes kill the code, even for its owner.
		h.clock.Advance(time.Hour)
		want(t, h.do("POST", "/v1/otp", "", map[string]any{"email": addr}), http.StatusAccepted, "")
		code = codeRE.FindString(h.mailTo(addr, "code").Text)
		for i := range 5 {
			w := "000000"
			if code == w {
				w = "111111"
			}
			if r := grant(map[string]any{"email": addr, "code": w}); r.status != http.StatusBadRequest {
				t.Fatalf("wrong code %d: %d %s", i+1, r.status, r.body)
			}
		}
		h.clock.Advance(2 * time.Second) // past the throttle's first delay
		want(t, grant(map[string]any{"email": addr, "code": code}), http.StatusBadRequest, "invalid_grant")

		// Codes expire.
		h.clock.Advance(time.Hour)
		want(t, h.do("POST", "/v1/otp", "", map[string]any{"email": addr}), http.StatusAccepted, "")
		code = codeRE.FindString(h.mailTo(addr, "code").Text)
		h.clock.Advance(10*time.Minute + time.Second)
		want(t, grant(map[string]any{"email": addr, "code": code}), http.StatusBadRequest, "invalid_grant")
	}, withSMTP(), withEnv("LATCH_SIGNUP_REQUIRE_VERIFICATION", "off", "LATCH_PASSWORDLESS", "on", "LATCH_APP_URL", "https://app.example.com"))
}

// TestPasswordlessOff: without LATCH_PASSWORDLESS the endpoint does not
// exist, the grant is unsupported, and discovery does not list it.
func TestPasswordlessOff(t *testing.T) {
	h := newHarness(t, backends()[0], withSMTP())
	if d := h.do("GET", "/.well-known/openid-configuration", "", nil); strings.Contains(string(d.body), `"otp"`) {
		t.Errorf("discovery lists otp while it is off: %s", d.body)
	}
	on := newHarness(t, backends()[0], withSMTP(), withEnv("LATCH_PASSWORDLESS", "on"))
	if d := on.do("GET", "/.well-known/openid-configuration", "", nil); !strings.Contains(string(d.body), `"otp"`) {
		t.Errorf("discovery does not list otp while it is on: %s", d.body)
	}
	want(t, h.do("POST", "/v1/otp", "", map[string]any{"email": "a@example.com"}), http.StatusNotFound, "not_found")
	want(t, h.do("POST", "/v1/token", "", map[string]any{"grant_type": "otp", "email": "a@example.com", "code": "123456"}), http.StatusBadRequest, "unsupported_grant_type")
}

// TestMailQuota: one address gets at most five messages of a kind an
// hour, whether or not it has an account, so nobody can flood an inbox
// through latch.
func TestMailQuota(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		h.signup("flood@example.com")
		for _, addr := range []string{"flood@example.com", "ghost@example.com"} {
			for range 5 {
				want(t, h.do("POST", "/v1/recover", "", map[string]any{"email": addr}), http.StatusAccepted, "")
			}
			r := h.do("POST", "/v1/recover", "", map[string]any{"email": addr})
			want(t, r, http.StatusTooManyRequests, "rate_limited")
			if r.header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		}
		if n := h.sendMail(); n != 5 {
			t.Fatalf("delivered %d, want 5", n)
		}
		h.clock.Advance(time.Hour)
		want(t, h.do("POST", "/v1/recover", "", map[string]any{"email": "flood@example.com"}), http.StatusAccepted, "")
	}, withSMTP(), withEnv("LATCH_SIGNUP_REQUIRE_VERIFICATION", "off"))
}

// TestOutboxRetry: a mail server that answers 4xx gets the message again
// later; a 5xx drops it; nothing is lost in between.
func TestOutboxRetry(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		resetDuringOutage(t, h, "retry@example.com")
		if n := h.sendMail(); n != 0 {
			t.Fatalf("retried before the back-off: %d", n)
		}
		h.clock.Advance(31 * time.Second)
		tok := linkToken(t, h.mailTo("retry@example.com", "reset"), h.cfg.HTTP.PublicURL, "recover")
		want(t, h.do("POST", "/v1/recover/confirm", "", map[string]any{"token": tok, "password": "a fresh passphrase"}), http.StatusNoContent, "")
		h.sendMail() // the password-changed notice

		h.smtp.Fail(1, 550)
		want(t, h.do("POST", "/v1/recover", "", map[string]any{"email": "retry@example.com"}), http.StatusAccepted, "")
		before := len(h.smtp.Messages())
		h.sendMail()
		h.clock.Advance(time.Hour)
		if n := h.sendMail(); n != 0 || len(h.smtp.Messages()) != before {
			t.Fatalf("a permanently refused message was sent again")
		}
	}, withSMTP(), withEnv("LATCH_SIGNUP_REQUIRE_VERIFICATION", "off"))
}

// resetDuringOutage signs addr up and asks for a reset link while the
// mail server answers 451: the message stays in the outbox.
func resetDuringOutage(t *testing.T, h *harness, addr string) {
	t.Helper()
	h.signup(addr)
	h.smtp.Fail(1, 451)
	want(t, h.do("POST", "/v1/recover", "", map[string]any{"email": addr}), http.StatusAccepted, "")
	if n := h.sendMail(); n != 0 {
		t.Fatalf("delivered %d during the outage", n)
	}
}

// TestLinkPages: latch's own pages never spend a token on GET (mail
// scanners open links); the form's POST does, once.
func TestLinkPages(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		const addr = "pages@example.com"
		want(t, h.do("POST", "/v1/signup", "", map[string]any{"email": addr, "password": goodPassword}), http.StatusAccepted, "")
		tok := linkToken(t, h.mailTo(addr, "confirm"), h.cfg.HTTP.PublicURL, "verify")
		b := h.browser()
		for range 2 {
			r := b.get("/verify?token=" + tok)
			if r.status != 200 || !strings.Contains(string(r.body), `name="token" value="`+tok+`"`) || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
				t.Fatalf("GET /verify: %d %s", r.status, r.body)
			}
			if !strings.Contains(r.header.Get("Content-Security-Policy"), "form-action 'self'") {
				t.Errorf("CSP: %q", r.header.Get("Content-Security-Policy"))
			}
		}
		want(t, h.login(addr, goodPassword), http.StatusForbidden, "email_not_verified")
		if r := b.post("/verify", url.Values{"token": {tok}}); r.status != 400 || !strings.Contains(string(r.body), "Enter a password") {
			t.Fatalf("POST /verify without a password: %d %s", r.status, r.body)
		}
		r := b.post("/verify", url.Values{"token": {tok}, "password": {goodPassword}})
		if r.status != 200 || !strings.Contains(string(r.body), "Address verified") {
			t.Fatalf("POST /verify: %d %s", r.status, r.body)
		}
		want(t, h.login(addr, goodPassword), http.StatusOK, "")
		b.get("/verify?token=" + tok) // the form again, as after the sign-in the verification made
		if r := b.post("/verify", url.Values{"token": {tok}, "password": {goodPassword}}); r.status != 400 || !strings.Contains(string(r.body), "no longer works") {
			t.Fatalf("replayed POST /verify: %d %s", r.status, r.body)
		}
		if r := b.get("/verify"); r.status != 400 {
			t.Fatalf("GET /verify without token: %d", r.status)
		}

		want(t, h.do("POST", "/v1/recover", "", map[string]any{"email": addr}), http.StatusAccepted, "")
		rt := linkToken(t, h.mailTo(addr, "reset"), h.cfg.HTTP.PublicURL, "recover")
		r = b.get("/recover?token=" + rt)
		if r.status != 200 || !strings.Contains(string(r.body), `type="password"`) {
			t.Fatalf("GET /recover: %d %s", r.status, r.body)
		}
		r = b.post("/recover", url.Values{"token": {rt}, "password": {"password"}})
		if r.status != 422 || !strings.Contains(string(r.body), "<li>") {
			t.Fatalf("weak password on the page: %d %s", r.status, r.body)
		}
		r = b.post("/recover", url.Values{"token": {rt}, "password": {"<script>alert(1)</script> long"}})
		if r.status != 200 || strings.Contains(string(r.body), "<script>") {
			t.Fatalf("POST /recover: %d %s", r.status, r.body)
		}
		want(t, h.login(addr, "<script>alert(1)</script> long"), http.StatusOK, "")
	}, withSMTP())
}

// TestOutboxExpiry: a message whose link would have expired before it
// could be delivered is dropped, not sent late, and the drop is audited.
func TestOutboxExpiry(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		resetDuringOutage(t, h, "slow@example.com")
		h.clock.Advance(time.Hour + time.Second)
		if n := h.sendMail(); n != 0 || h.messagesTo("slow@example.com") != 0 {
			t.Fatalf("an expired reset link was sent")
		}
		if n, err := h.db.CountMail(context.Background()); err != nil || n != 0 {
			t.Fatalf("outbox after expiry: %d messages, %v", n, err)
		}
		ev, err := h.db.ListAudit(context.Background(), store.ListAuditOptions{Type: "mail.expired"})
		if err != nil || len(ev) != 1 {
			t.Fatalf("mail.expired events: %d, %v", len(ev), err)
		}
	}, withSMTP(), withEnv("LATCH_SIGNUP_REQUIRE_VERIFICATION", "off"))
}
