package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/store"
)

// The findings of the security review, each refused here through the real
// router on SQLite and PostgreSQL.

// hookHasher is the real hasher with a hook run after every password
// check, so that a test can hold a request between the check and what
// follows it. The hashing stays real.
type hookHasher struct {
	auth.Hasher
	hook atomic.Pointer[func()]
}

func (h *hookHasher) Verify(ctx context.Context, pw, encoded string) (bool, bool, error) {
	ok, rehash, err := h.Hasher.Verify(ctx, pw, encoded)
	if f := h.hook.Load(); f != nil {
		(*f)()
	}
	return ok, rehash, err
}

func (h *hookHasher) option() harnessOption {
	return withHasher(func(real auth.Hasher) auth.Hasher { h.Hasher = real; return h })
}

// holdNext holds the next password check, once it is done, until release
// is closed; held is closed when it is held.
func (h *hookHasher) holdNext() (held, release chan struct{}) {
	held, release = make(chan struct{}), make(chan struct{})
	var taken atomic.Bool
	f := func() {
		if taken.CompareAndSwap(false, true) {
			close(held)
			<-release
		}
	}
	h.hook.Store(&f)
	return held, release
}

// liveSessions counts the user's sessions that can still be refreshed.
func liveSessions(t *testing.T, h *harness, userID string) int {
	t.Helper()
	all, err := h.db.ListSessions(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	return len(all)
}

// A sign-in whose password check was overtaken by a password change or
// reset must not start a session: the change ends every session "but the
// caller's", and a session created from the old password just after that
// revocation would live on for 30 days (OWASP ASVS 5.0 V7.4.3: sessions
// end when the password changes; NIST SP 800-63B §7.1).
func TestOvertakenPasswordCheckStartsNoSession(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		for _, change := range []string{"change", "reset"} {
			t.Run(change, func(t *testing.T) {
				hh := &hookHasher{}
				h := newHarness(t, b, hh.option(), withSMTP(), withEnv("LATCH_SIGNUP_REQUIRE_VERIFICATION", "off"))
				const addr = "owner@example.com"
				s := h.signup(addr)
				held, release := hh.holdNext()
				done := make(chan response, 1)
				go func() { done <- h.login(addr, goodPassword) }()
				<-held // the old password is checked; the session is not made yet
				const newPW = "a brand new passphrase"
				wantLive := 1
				if change == "change" {
					want(t, h.do("PATCH", "/v1/user", s.access, map[string]any{"password": newPW, "current_password": goodPassword}), http.StatusOK, "")
				} else {
					want(t, h.do("POST", "/v1/recover", "", map[string]any{"email": addr}), http.StatusAccepted, "")
					tok := linkToken(t, h.mailTo(addr, "reset"), h.cfg.HTTP.PublicURL, "recover")
					want(t, h.do("POST", "/v1/recover/confirm", "", map[string]any{"token": tok, "password": newPW}), http.StatusNoContent, "")
					wantLive = 0
				}
				close(release)
				r := <-done
				want(t, r, http.StatusBadRequest, "invalid_grant")
				if n := liveSessions(t, h, s.userID); n != wantLive {
					t.Fatalf("live sessions after the %s: got %d, want %d", change, n, wantLive)
				}
				want(t, h.login(addr, newPW), http.StatusOK, "")
			})
		}
	})
}

// A burst of concurrent guesses gets no more checks than a patient
// attacker: the attempt is reserved before the hash is checked (OWASP
// ASVS 5.0 V6.3.1: anti-automation that holds under concurrency; NIST SP
// 800-63B §5.2.2). From one address the pair rule allows 5 free failures
// and the 6th that starts the first delay.
func TestConcurrentGuessesMeetTheThrottle(t *testing.T) {
	const burst, allowed = 40, 6
	forEachBackend(t, func(t *testing.T, b backend) {
		// gated runs burst requests with every password check held until
		// all of them are either checked or refused, so that none can
		// finish before the others start.
		gated := func(t *testing.T, hh *hookHasher, send func(i int) response) (checked int) {
			t.Helper()
			var entered, finished atomic.Int64
			release := make(chan struct{})
			f := func() { entered.Add(1); <-release }
			hh.hook.Store(&f)
			results := make(chan response, burst)
			for i := range burst {
				go func() {
					r := send(i)
					finished.Add(1)
					results <- r
				}()
			}
			deadline := time.Now().Add(30 * time.Second)
			for entered.Load()+finished.Load() < burst && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			close(release)
			for range burst {
				r := <-results
				switch r.status {
				case http.StatusBadRequest:
					checked++
				case http.StatusTooManyRequests:
				default:
					t.Fatalf("unexpected answer %d %s", r.status, r.body)
				}
			}
			return checked
		}
		t.Run("password grant", func(t *testing.T) {
			hh := &hookHasher{}
			h := newHarness(t, b, hh.option())
			h.signup("burst@example.com")
			n := gated(t, hh, func(i int) response { return h.login("burst@example.com", fmt.Sprintf("wrong guess %d", i)) })
			if n > allowed {
				t.Fatalf("%d of %d concurrent guesses were checked; the policy allows %d", n, burst, allowed)
			}
		})
		t.Run("current_password", func(t *testing.T) {
			hh := &hookHasher{}
			h := newHarness(t, b, hh.option())
			s := h.signup("patch@example.com")
			n := gated(t, hh, func(i int) response {
				return h.do("PATCH", "/v1/user", s.access, map[string]any{"password": "another passphrase", "current_password": fmt.Sprintf("wrong guess %d", i)})
			})
			if n > allowed {
				t.Fatalf("%d of %d concurrent current_password guesses were checked; the policy allows %d", n, burst, allowed)
			}
		})
		t.Run("otp code", func(t *testing.T) {
			h := newHarness(t, b, withSMTP(), withEnv("LATCH_SIGNUP_REQUIRE_VERIFICATION", "off", "LATCH_PASSWORDLESS", "on"))
			h.signup("code@example.com")
			want(t, h.do("POST", "/v1/otp", "", map[string]any{"email": "code@example.com"}), http.StatusAccepted, "")
			code := codeRE.FindString(h.mailTo("code@example.com", "code").Text)
			results := make(chan response, burst)
			start := make(chan struct{})
			for i := range burst {
				go func() {
					<-start
					w := fmt.Sprintf("%06d", i)
					if w == code {
						w = "999999"
					}
					results <- h.do("POST", "/v1/token", "", map[string]any{"grant_type": "otp", "email": "code@example.com", "code": w})
				}()
			}
			close(start)
			checked := 0
			for range burst {
				if r := <-results; r.status == http.StatusBadRequest {
					checked++
				}
			}
			if checked > allowed {
				t.Fatalf("%d of %d concurrent code guesses were checked; the policy allows %d", checked, burst, allowed)
			}
		})
	})
}

// Once one link of a purpose is used, or the address is verified, every
// other outstanding link of that purpose dies: an old verification link
// must not stay a way in (OWASP ASVS 5.0 V6.4.1: single use; NIST SP
// 800-63B §5.1.3.2).
func TestUsedLinkKillsItsSiblings(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		const addr = "twice@example.com"
		want(t, h.do("POST", "/v1/signup", "", map[string]any{"email": addr, "password": goodPassword}), http.StatusAccepted, "")
		first := linkToken(t, h.mailTo(addr, "confirm"), h.cfg.HTTP.PublicURL, "verify")
		want(t, h.do("POST", "/v1/verify/resend", "", map[string]any{"email": addr}), http.StatusAccepted, "")
		second := linkToken(t, h.mailTo(addr, "confirm"), h.cfg.HTTP.PublicURL, "verify")
		want(t, h.do("POST", "/v1/verify", "", map[string]any{"token": second, "password": goodPassword}), http.StatusOK, "")
		want(t, h.do("POST", "/v1/verify", "", map[string]any{"token": first, "password": goodPassword}), http.StatusBadRequest, "invalid_grant")

		// A verification link dies when the address is verified another
		// way (a password reset proves the mailbox too).
		const addr2 = "reset-verifies@example.com"
		want(t, h.do("POST", "/v1/signup", "", map[string]any{"email": addr2, "password": goodPassword}), http.StatusAccepted, "")
		verify := linkToken(t, h.mailTo(addr2, "confirm"), h.cfg.HTTP.PublicURL, "verify")
		want(t, h.do("POST", "/v1/recover", "", map[string]any{"email": addr2}), http.StatusAccepted, "")
		reset := linkToken(t, h.mailTo(addr2, "reset"), h.cfg.HTTP.PublicURL, "recover")
		want(t, h.do("POST", "/v1/recover/confirm", "", map[string]any{"token": reset, "password": "a brand new passphrase"}), http.StatusNoContent, "")
		want(t, h.do("POST", "/v1/verify", "", map[string]any{"token": verify, "password": goodPassword}), http.StatusBadRequest, "invalid_grant")
	}, withSMTP())
}

// "A recent sign-in" is the session's auth_time, the last real proof of a
// credential: access tokens carry it (RFC 9068 §2.2.1), a refresh never
// resets it, an email link never sets it; a change that needs it and
// lacks it answers 401 insufficient_user_authentication (RFC 9470 §3),
// and a user with a password must give it (OWASP ASVS 5.0 V6.2.3, V6.4).
func TestRecentSignInIsAuthTime(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		authTime := func(access string) (float64, bool) {
			_, c := jwtParts(t, access)
			v, ok := c["auth_time"].(float64)
			return v, ok
		}
		signedIn := float64(h.clock.Now().Unix())
		s := h.signup("pwd@example.com")
		if at, ok := authTime(s.access); !ok || at != signedIn {
			t.Fatalf("auth_time after sign-up: got %v (present %v), want %v", at, ok, signedIn)
		}
		h.clock.Advance(10 * time.Minute)
		r := h.refresh(s.refresh)
		want(t, r, http.StatusOK, "")
		if at, _ := authTime(r.tokens(t).access); at != signedIn {
			t.Fatalf("auth_time after a refresh: got %v, want %v (a refresh proves nothing)", at, signedIn)
		}
		// A user with a password gives it, however recent the sign-in.
		fresh := h.login("pwd@example.com", goodPassword).tokens(t)
		want(t, h.do("PATCH", "/v1/user", fresh.access, map[string]any{"email": "elsewhere@example.com"}), http.StatusBadRequest, "invalid_request")

		// A user without a password: a code sign-in to the unverified
		// account removes its password (see below) and proves the address.
		const addr = "codes-only@example.com"
		h.signup(addr)
		want(t, h.do("POST", "/v1/otp", "", map[string]any{"email": addr}), http.StatusAccepted, "")
		code := codeRE.FindString(h.mailTo(addr, "code").Text)
		c := h.do("POST", "/v1/token", "", map[string]any{"grant_type": "otp", "email": addr, "code": code}).tokens(t)
		if at, ok := authTime(c.access); !ok || at != float64(h.clock.Now().Unix()) {
			t.Fatalf("auth_time after a code: got %v (present %v)", at, ok)
		}
		want(t, h.do("PATCH", "/v1/user", c.access, map[string]any{"email": "moved-1@example.com"}), http.StatusAccepted, "")
		h.clock.Advance(5*time.Minute + time.Second)
		r = h.do("PATCH", "/v1/user", c.access, map[string]any{"email": "moved-2@example.com"})
		want(t, r, http.StatusUnauthorized, "insufficient_user_authentication")
		if wa := r.header.Get("WWW-Authenticate"); !strings.Contains(wa, `error="insufficient_user_authentication"`) || !strings.Contains(wa, "max_age=300") {
			t.Fatalf("WWW-Authenticate: %q", wa)
		}
		// An email link signs in without proving a credential.
		want(t, h.do("POST", "/v1/otp", "", map[string]any{"email": addr}), http.StatusAccepted, "")
		tok := linkToken(t, h.mailTo(addr, "code"), "https://app.example.com", "otp")
		l := h.do("POST", "/v1/token", "", map[string]any{"grant_type": "otp", "token": tok}).tokens(t)
		if at, ok := authTime(l.access); ok {
			t.Fatalf("a link sign-in carries auth_time %v", at)
		}
		want(t, h.do("PATCH", "/v1/user", l.access, map[string]any{"email": "moved-3@example.com"}), http.StatusUnauthorized, "insufficient_user_authentication")
	}, withSMTP(), withEnv("LATCH_SIGNUP_REQUIRE_VERIFICATION", "off", "LATCH_PASSWORDLESS", "on", "LATCH_APP_URL", "https://app.example.com"))
}

// An email change ends every session but the one that asked for it
// (OWASP ASVS 5.0 V7.4.3).
func TestEmailChangeEndsOtherSessions(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		s1 := h.signup("mover@example.com")
		s2 := h.login("mover@example.com", goodPassword).tokens(t)
		want(t, h.do("PATCH", "/v1/user", s1.access, map[string]any{"email": "moved@example.com", "current_password": goodPassword}), http.StatusAccepted, "")
		tok := linkToken(t, h.mailTo("moved@example.com", "confirm"), h.cfg.HTTP.PublicURL, "email-change")
		want(t, h.do("POST", "/v1/user/email/confirm", "", map[string]any{"token": tok}), http.StatusOK, "")
		want(t, h.do("GET", "/v1/user", s2.access, nil), http.StatusUnauthorized, "invalid_token")
		want(t, h.refresh(s2.refresh), http.StatusBadRequest, "invalid_grant")
		want(t, h.do("GET", "/v1/user", s1.access, nil), http.StatusOK, "")
		want(t, h.refresh(s1.refresh), http.StatusOK, "")
	}, withSMTP(), withEnv("LATCH_SIGNUP_REQUIRE_VERIFICATION", "off"))
}

// Pre-registration takeover: someone signs up with another person's
// address and a password of their own. Verifying must never leave that
// password alive: the verifier sets the password, and every session not
// made by the verification ends (OWASP ASVS 5.0 V6.4.1, V6.3.4; the
// "pre-account takeover" class).
func TestVerificationSetsThePassword(t *testing.T) {
	const attackerPW, victimPW = "attacker knows this one", "the owner's own passphrase"
	forEachBackend(t, func(t *testing.T, b backend) {
		t.Run("verification required", func(t *testing.T) {
			h := newHarness(t, b, withSMTP())
			const addr = "victim@example.com"
			want(t, h.do("POST", "/v1/signup", "", map[string]any{"email": addr, "password": attackerPW}), http.StatusAccepted, "")
			tok := linkToken(t, h.mailTo(addr, "confirm"), h.cfg.HTTP.PublicURL, "verify")
			want(t, h.do("POST", "/v1/verify", "", map[string]any{"token": tok}), http.StatusBadRequest, "invalid_request")
			want(t, h.do("POST", "/v1/verify", "", map[string]any{"token": tok, "password": "password"}), http.StatusUnprocessableEntity, "weak_password")
			r := h.do("POST", "/v1/verify", "", map[string]any{"token": tok, "password": victimPW})
			want(t, r, http.StatusOK, "")
			if _, c := jwtParts(t, r.tokens(t).access); c["auth_time"] == nil {
				t.Errorf("verification with a password records no auth_time")
			}
			want(t, h.login(addr, attackerPW), http.StatusBadRequest, "invalid_grant")
			want(t, h.login(addr, victimPW), http.StatusOK, "")
		})
		t.Run("verification optional", func(t *testing.T) {
			h := newHarness(t, b, withSMTP(), withEnv("LATCH_SIGNUP_REQUIRE_VERIFICATION", "off"))
			const addr = "victim2@example.com"
			a := h.signup(addr) // the attacker, signed in at once
			want(t, h.do("POST", "/v1/verify/resend", "", map[string]any{"email": addr}), http.StatusAccepted, "")
			tok := linkToken(t, h.mailTo(addr, "confirm"), h.cfg.HTTP.PublicURL, "verify")
			want(t, h.do("POST", "/v1/verify", "", map[string]any{"token": tok, "password": victimPW}), http.StatusOK, "")
			want(t, h.do("GET", "/v1/user", a.access, nil), http.StatusUnauthorized, "invalid_token")
			want(t, h.refresh(a.refresh), http.StatusBadRequest, "invalid_grant")
			want(t, h.login(addr, goodPassword), http.StatusBadRequest, "invalid_grant")
		})
		t.Run("page", func(t *testing.T) {
			h := newHarness(t, b, withSMTP())
			const addr = "victim3@example.com"
			want(t, h.do("POST", "/v1/signup", "", map[string]any{"email": addr, "password": attackerPW}), http.StatusAccepted, "")
			tok := linkToken(t, h.mailTo(addr, "confirm"), h.cfg.HTTP.PublicURL, "verify")
			b := h.browser()
			r := b.get("/verify?token=" + tok)
			want(t, r, http.StatusOK, "")
			if !strings.Contains(string(r.body), `type="password"`) {
				t.Fatalf("the verification page asks for no password:\n%s", r.body)
			}
			r = b.post("/verify", url.Values{"token": {tok}, "password": {victimPW}})
			want(t, r, http.StatusOK, "")
			want(t, h.login(addr, attackerPW), http.StatusBadRequest, "invalid_grant")
			want(t, h.login(addr, victimPW), http.StatusOK, "")
		})
	})
}

// A code sign-in to an account whose address was never verified proves
// the mailbox, not the password someone chose at sign-up: the password
// is removed and every other session ends (pre-account takeover).
func TestCodeSignInToUnverifiedAccountRemovesPassword(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		const addr = "owner-by-mail@example.com"
		a := h.signup(addr) // someone who does not own the mailbox
		want(t, h.do("POST", "/v1/otp", "", map[string]any{"email": addr}), http.StatusAccepted, "")
		code := codeRE.FindString(h.mailTo(addr, "code").Text)
		want(t, h.do("POST", "/v1/token", "", map[string]any{"grant_type": "otp", "email": addr, "code": code}), http.StatusOK, "")
		want(t, h.refresh(a.refresh), http.StatusBadRequest, "invalid_grant")
		want(t, h.login(addr, goodPassword), http.StatusBadRequest, "invalid_grant")
	}, withSMTP(), withEnv("LATCH_SIGNUP_REQUIRE_VERIFICATION", "off", "LATCH_PASSWORDLESS", "on"))
}

// Targeted lockout: failures from many addresses delay an account, but a
// client that completed a sign-in before presents its device token and
// skips the account-wide delay, keeping its own counter (OWASP "Slow
// Down Online Guessing Attacks with Device Cookies"; NIST SP 800-63B
// §5.2.2 asks that throttling not lock the owner out).
func TestDeviceTokenOwnerNotLockedOut(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		const addr = "locked@example.com"
		h.signup(addr)
		h.signup("someone-else@example.com")
		from := func(ip string) []string { return []string{"X-Forwarded-For", ip} }
		login := func(pw, ip, device string) response {
			body := map[string]any{"grant_type": "password", "email": addr, "password": pw}
			if device != "" {
				body["device_token"] = device
			}
			return h.do("POST", "/v1/token", "", body, from(ip)...)
		}
		r := login(goodPassword, "198.51.100.7", "")
		want(t, r, http.StatusOK, "")
		device := r.str(t, "device_token")
		if device == "" {
			t.Fatalf("a complete sign-in returned no device_token: %s", r.body)
		}
		otherDevice := h.do("POST", "/v1/token", "", map[string]any{"grant_type": "password", "email": "someone-else@example.com", "password": goodPassword}).str(t, "device_token")

		for i := range 14 {
			login(fmt.Sprintf("attacker guess %d", i), fmt.Sprintf("203.0.113.%d", i+1), "")
		}
		want(t, login(goodPassword, "198.51.100.7", ""), http.StatusTooManyRequests, "rate_limited")
		want(t, login(goodPassword, "198.51.100.7", otherDevice), http.StatusTooManyRequests, "rate_limited")
		want(t, login(goodPassword, "198.51.100.7", "ldt_forged"), http.StatusTooManyRequests, "rate_limited")
		r = login(goodPassword, "198.51.100.7", device)
		want(t, r, http.StatusOK, "")

		// The device has its own counter: 5 free failures, the 6th starts
		// a delay that the device then meets.
		for i := range 6 {
			want(t, login(fmt.Sprintf("owner typo %d", i), "198.51.100.8", device), http.StatusBadRequest, "invalid_grant")
		}
		want(t, login(goodPassword, "198.51.100.9", device), http.StatusTooManyRequests, "rate_limited")
	}, withEnv("LATCH_TRUSTED_PROXIES", "127.0.0.1"))
}

// A password typed into the email field must not reach the audit trail:
// the failure keeps the address only when it is one (OWASP ASVS 5.0
// V16.2.5: no credentials in logs).
func TestLoginFailureAuditKeepsNoTypedSecret(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		const secret = "Tr0ub4dor&3-typed-in-the-wrong-box"
		want(t, h.login(secret, "whatever password"), http.StatusBadRequest, "invalid_grant")
		want(t, h.login("  Someone@Example.COM ", "whatever password"), http.StatusBadRequest, "invalid_grant")
		evs, err := h.db.ListAudit(context.Background(), store.ListAuditOptions{Type: "login.failure"})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 2 {
			t.Fatalf("got %d login.failure events, want 2", len(evs))
		}
		if d := string(evs[1].Detail); strings.Contains(strings.ToLower(d), strings.ToLower(secret)) || !strings.Contains(d, "email_hash") {
			t.Errorf("failure with a non-address: detail %s", d)
		}
		if d := string(evs[0].Detail); !strings.Contains(d, `"someone@example.com"`) {
			t.Errorf("failure with an address: detail %s, want the normalised address", d)
		}
	})
}

// The notice sent to the old address carries a link that undoes the
// change: the account returns to the old address, every session ends, the
// password (which whoever changed the address may know) is cleared and a
// reset link goes to the old address (OWASP ASVS 5.0 V6.4.3 notifications;
// OWASP Authentication cheat sheet, "Changing A User's Registered Email").
func TestEmailChangeUndo(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		const oldAddr, newAddr = "mine@example.com", "thief@example.com"
		s := h.signup(oldAddr)
		want(t, h.do("PATCH", "/v1/user", s.access, map[string]any{"email": newAddr, "current_password": goodPassword}), http.StatusAccepted, "")
		undo := linkToken(t, h.mailTo(oldAddr, "change of email"), h.cfg.HTTP.PublicURL, "email-revert")
		tok := linkToken(t, h.mailTo(newAddr, "confirm"), h.cfg.HTTP.PublicURL, "email-change")
		want(t, h.do("POST", "/v1/user/email/confirm", "", map[string]any{"token": tok}), http.StatusOK, "")
		// The thief changes the password too; the undo link survives it.
		want(t, h.do("PATCH", "/v1/user", s.access, map[string]any{"password": "thief's new passphrase", "current_password": goodPassword}), http.StatusOK, "")

		want(t, h.do("POST", "/v1/user/email/revert", "", map[string]any{"token": undo}), http.StatusNoContent, "")
		want(t, h.do("GET", "/v1/user", s.access, nil), http.StatusUnauthorized, "invalid_token")
		want(t, h.login(newAddr, "thief's new passphrase"), http.StatusBadRequest, "invalid_grant")
		want(t, h.login(oldAddr, "thief's new passphrase"), http.StatusBadRequest, "invalid_grant")
		want(t, h.do("POST", "/v1/user/email/revert", "", map[string]any{"token": undo}), http.StatusBadRequest, "invalid_grant")
		reset := linkToken(t, h.mailTo(oldAddr, "reset"), h.cfg.HTTP.PublicURL, "recover")
		want(t, h.do("POST", "/v1/recover/confirm", "", map[string]any{"token": reset, "password": "mine again, at last"}), http.StatusNoContent, "")
		want(t, h.login(oldAddr, "mine again, at last"), http.StatusOK, "")

		// Undone before it was confirmed: the confirmation link dies.
		h.clock.Advance(time.Second)
		want(t, h.do("PATCH", "/v1/user", h.login(oldAddr, "mine again, at last").tokens(t).access, map[string]any{"email": "other@example.com", "current_password": "mine again, at last"}), http.StatusAccepted, "")
		undo = linkToken(t, h.mailTo(oldAddr, "change of email"), h.cfg.HTTP.PublicURL, "email-revert")
		tok = linkToken(t, h.mailTo("other@example.com", "confirm"), h.cfg.HTTP.PublicURL, "email-change")
		h.clock.Advance(time.Second)
		want(t, h.do("POST", "/v1/user/email/revert", "", map[string]any{"token": undo}), http.StatusNoContent, "")
		want(t, h.do("POST", "/v1/user/email/confirm", "", map[string]any{"token": tok}), http.StatusBadRequest, "invalid_grant")
	}, withSMTP(), withEnv("LATCH_SIGNUP_REQUIRE_VERIFICATION", "off"))
}
