package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/latchauth/latch/internal/store"
)

func TestSignupIssuesTokens(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		r := h.do("POST", "/v1/signup", "", map[string]any{
			"email": "  Ada@Example.COM ", "password": goodPassword, "metadata": map[string]any{"name": "Ada"},
		})
		want(t, r, http.StatusCreated, "")
		// RFC 6749 §5.1: token responses must not be cached.
		if got := r.header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("Cache-Control: got %q, want no-store", got)
		}
		if got := r.header.Get("Pragma"); got != "no-cache" {
			t.Errorf("Pragma: got %q, want no-cache", got)
		}
		m := r.json(t)
		if m["token_type"] != "Bearer" {
			t.Errorf("token_type: got %v, want Bearer", m["token_type"])
		}
		if m["expires_in"] != float64(900) {
			t.Errorf("expires_in: got %v, want 900", m["expires_in"])
		}
		rt := r.str(t, "refresh_token")
		// DESIGN: lrt_ prefix and at least 256 random bits.
		if !strings.HasPrefix(rt, "lrt_") || len(rt) < 4+43 {
			t.Errorf("refresh token %q: want lrt_ and ≥43 base64url characters", rt)
		}
		u := m["user"].(map[string]any)
		if u["email"] != "ada@example.com" {
			t.Errorf("email: got %v, want trimmed lower-case ada@example.com", u["email"])
		}
		if u["email_verified"] != false || u["last_sign_in_at"] == nil || u["created_at"] == nil {
			t.Errorf("user fields: %v", u)
		}
		if md, _ := u["metadata"].(map[string]any); md["name"] != "Ada" {
			t.Errorf("metadata: got %v", u["metadata"])
		}
		for _, leak := range []string{"password", "hash", "argon2"} {
			if strings.Contains(string(r.body), leak) {
				t.Errorf("response mentions %q: %s", leak, r.body)
			}
		}

		// RFC 9068 §2.1-2.2: header typ at+jwt, and the claims DESIGN lists.
		hdr, claims := jwtParts(t, r.str(t, "access_token"))
		if hdr["typ"] != "at+jwt" || hdr["alg"] != "ES256" || hdr["kid"] == "" {
			t.Errorf("JWT header: got %v, want typ at+jwt, alg ES256, a kid", hdr)
		}
		for _, c := range []string{"iss", "sub", "aud", "exp", "iat", "jti", "client_id", "sid", "amr", "aal", "email", "email_verified"} {
			if _, ok := claims[c]; !ok {
				t.Errorf("claim %s missing: %v", c, claims)
			}
		}
		if claims["iss"] != "http://localhost:8080" || claims["sub"] != u["id"] || claims["email"] != "ada@example.com" {
			t.Errorf("claims: %v", claims)
		}
		if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat != 900 {
			t.Errorf("exp-iat: got %v, want 900", exp-iat)
		}
	})
}

func TestSignupRefusesBadInput(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		long := strings.Repeat("x", 70<<10)
		cases := []struct {
			name   string
			body   any
			ctype  string
			status int
			code   string
		}{
			{"malformed JSON", `{"email":`, "", 400, "invalid_request"},
			{"not an object", `[1,2]`, "", 400, "invalid_request"},
			{"empty body", ``, "", 400, "invalid_request"},
			{"trailing data", `{"email":"a@b.co","password":"x"} {}`, "", 400, "invalid_request"},
			{"password wrong type", `{"email":"a@b.co","password":123}`, "", 400, "invalid_request"},
			{"missing email", map[string]any{"password": goodPassword}, "", 400, "invalid_request"},
			{"bad email", map[string]any{"email": "not-an-email", "password": goodPassword}, "", 400, "invalid_request"},
			{"email with display name", map[string]any{"email": "Ada <ada@example.com>", "password": goodPassword}, "", 400, "invalid_request"},
			{"missing password", map[string]any{"email": "a@example.com"}, "", 400, "invalid_request"},
			{"metadata not an object", map[string]any{"email": "a@example.com", "password": goodPassword, "metadata": []int{1}}, "", 400, "invalid_request"},
			{"form not accepted", url.Values{"email": {"a@example.com"}}, "", 415, "unsupported_media_type"},
			{"text/plain", `{}`, "text/plain", 415, "unsupported_media_type"},
			{"too large", `{"email":"` + long + `"}`, "", 413, "payload_too_large"},
			{"100,000 nested brackets", strings.Repeat("[", 100000), "", 413, "payload_too_large"},
			{"60,000 nested brackets", strings.Repeat("[", 60000), "", 400, "invalid_request"},
			{"nested objects", `{"email":"a@b.co","metadata":` + strings.Repeat(`{"a":`, 10001) + "1" + strings.Repeat("}", 10001) + `}`, "", 400, "invalid_request"},
			// A duplicate key is refused rather than resolved silently (a
			// proxy might read the first, encoding/json keeps the last).
			{"duplicate key", `{"email":"a@example.com","password":"x","password":"` + goodPassword + `"}`, "", 400, "invalid_request"},
			{"duplicate nested key", `{"email":"dup@example.com","password":"` + goodPassword + `","metadata":{"a":1,"a":2}}`, "", 400, "invalid_request"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				var r response
				if c.ctype != "" {
					r = h.do("POST", "/v1/signup", "", c.body, "Content-Type", c.ctype)
				} else {
					r = h.do("POST", "/v1/signup", "", c.body)
				}
				want(t, r, c.status, c.code)
			})
		}
	})
}

func TestSignupWeakPassword(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		cases := []struct {
			password string
			reason   string
		}{
			{"short1!", "too_short"},             // NIST SP 800-63B §3.1.1.2: at least 8
			{"password1", "common"},              // NIST SP 800-63B §3.1.1.2: blocklist
			{"bob@example.com", "matches_email"}, // ASVS 5.0 V6.2: not the user's identifier
			{strings.Repeat("é", 257), "too_long"},
		}
		for _, c := range cases {
			t.Run(c.reason, func(t *testing.T) {
				r := h.do("POST", "/v1/signup", "", map[string]any{"email": "bob@example.com", "password": c.password})
				want(t, r, http.StatusUnprocessableEntity, "weak_password")
				reasons, _ := r.json(t)["reasons"].([]any)
				var codes []string
				for _, x := range reasons {
					codes = append(codes, fmt.Sprint(x.(map[string]any)["code"]))
				}
				if !slices.Contains(codes, c.reason) {
					t.Errorf("reasons: got %v, want %s among them", codes, c.reason)
				}
			})
		}
		// Eight code points pass even when they are multi-byte (NIST counts
		// characters, not bytes).
		r := h.do("POST", "/v1/signup", "", map[string]any{"email": "emoji@example.com", "password": "🦊🦊🦊🦊🐙🐙🐙🐙"})
		want(t, r, http.StatusCreated, "")
	})
}

func TestSignupEmailTaken(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		h.signup("eve@example.com")
		r := h.do("POST", "/v1/signup", "", map[string]any{"email": " EVE@example.com", "password": goodPassword})
		want(t, r, http.StatusConflict, "email_taken")
	})
}

// Twelve concurrent signups of one email make exactly one account.
func TestSignupConcurrentSameEmail(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		var wg sync.WaitGroup
		statuses := make([]int, 12)
		for i := range statuses {
			wg.Go(func() {
				r := h.do("POST", "/v1/signup", "", map[string]any{"email": "race@example.com", "password": goodPassword})
				statuses[i] = r.status
			})
		}
		wg.Wait()
		created, taken := 0, 0
		for _, s := range statuses {
			switch s {
			case http.StatusCreated:
				created++
			case http.StatusConflict:
				taken++
			}
		}
		if created != 1 || taken != 11 {
			t.Fatalf("got %d created and %d taken (%v), want 1 and 11", created, taken, statuses)
		}
		users, err := h.db.ListUsers(context.Background(), store.ListUsersOptions{})
		if err != nil || len(users) != 1 {
			t.Fatalf("users: got %d (%v), want 1", len(users), err)
		}
	})
}

func TestLogin(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		h.signup("ann@example.com")

		t.Run("json", func(t *testing.T) {
			r := h.login("ANN@example.com ", goodPassword)
			want(t, r, http.StatusOK, "")
			r.tokens(t)
		})
		t.Run("form", func(t *testing.T) {
			// RFC 6749 §4.3.2: the password grant, form-encoded, username.
			r := h.do("POST", "/v1/token", "", url.Values{"grant_type": {"password"}, "username": {"ann@example.com"}, "password": {goodPassword}})
			want(t, r, http.StatusOK, "")
			r.tokens(t)
		})
		t.Run("repeated form parameter", func(t *testing.T) {
			r := h.do("POST", "/v1/token", "", url.Values{"grant_type": {"password", "password"}, "email": {"ann@example.com"}, "password": {goodPassword}})
			want(t, r, http.StatusBadRequest, "invalid_request")
		})
		t.Run("password in query is not read", func(t *testing.T) {
			r := h.do("POST", "/v1/token?password="+url.QueryEscape(goodPassword), "", url.Values{"grant_type": {"password"}, "email": {"ann@example.com"}})
			want(t, r, http.StatusBadRequest, "invalid_request")
		})
		// One answer for unknown email and wrong password (ASVS 5.0 V6.3.8).
		wrong := h.login("ann@example.com", "wrong password here")
		unknown := h.login("nobody@example.com", "wrong password here")
		want(t, wrong, http.StatusBadRequest, "invalid_grant")
		want(t, unknown, http.StatusBadRequest, "invalid_grant")
		if string(wrong.body) != string(unknown.body) {
			t.Errorf("answers differ:\nwrong:   %s\nunknown: %s", wrong.body, unknown.body)
		}
		for _, c := range []struct {
			name string
			body any
			code string
		}{
			{"no grant type", map[string]any{"email": "ann@example.com", "password": goodPassword}, "invalid_request"},
			{"unknown grant type", map[string]any{"grant_type": "client_credentials"}, "unsupported_grant_type"},
			{"missing password", map[string]any{"grant_type": "password", "email": "ann@example.com"}, "invalid_request"},
			{"missing refresh token", map[string]any{"grant_type": "refresh_token"}, "invalid_request"},
		} {
			t.Run(c.name, func(t *testing.T) {
				want(t, h.do("POST", "/v1/token", "", c.body), http.StatusBadRequest, c.code)
			})
		}
	})
}

func TestBcryptHashUpgradedOnLogin(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		hash, err := bcrypt.GenerateFromPassword([]byte(goodPassword), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		now := h.clock.Now()
		u := store.User{ID: "0193a8a0-0000-7000-8000-000000000001", Email: "old@example.com", PasswordHash: string(hash), Metadata: []byte("{}"), CreatedAt: now, UpdatedAt: now}
		if err := h.db.CreateUser(context.Background(), u); err != nil {
			t.Fatal(err)
		}
		want(t, h.login("old@example.com", goodPassword), http.StatusOK, "")
		got, err := h.db.GetUser(context.Background(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(got.PasswordHash, "$argon2id$") {
			t.Errorf("hash after login: got %.10s…, want $argon2id$", got.PasswordHash)
		}
		want(t, h.login("old@example.com", goodPassword), http.StatusOK, "")
	})
}

func TestUserEndpoint(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		tk := h.signup("uma@example.com")
		r := h.do("GET", "/v1/user", tk.access, nil)
		want(t, r, http.StatusOK, "")
		if r.str(t, "email") != "uma@example.com" || r.str(t, "id") != tk.userID {
			t.Errorf("user: %s", r.body)
		}

		// RFC 6750 §3.1: no credentials → a challenge without an error code.
		r = h.do("GET", "/v1/user", "", nil)
		want(t, r, http.StatusUnauthorized, "invalid_token")
		if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") || strings.Contains(got, "error=") {
			t.Errorf("WWW-Authenticate without a token: got %q", got)
		}
		// A bad token → error="invalid_token".
		for _, bad := range []string{"garbage", tk.access + "x", tk.refresh, strings.Replace(tk.access, ".", "..", 1)} {
			r = h.do("GET", "/v1/user", bad, nil)
			want(t, r, http.StatusUnauthorized, "invalid_token")
			if got := r.header.Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
				t.Errorf("WWW-Authenticate: got %q", got)
			}
		}
		// RFC 6750 §2.3 is not supported: a token in the query is ignored.
		r = h.do("GET", "/v1/user?access_token="+tk.access, "", nil)
		want(t, r, http.StatusUnauthorized, "invalid_token")

		// Expired (RFC 7519 §4.1.4) beyond the small leeway.
		h.clock.Advance(16 * time.Minute)
		want(t, h.do("GET", "/v1/user", tk.access, nil), http.StatusUnauthorized, "invalid_token")
	})
}

func TestPatchUser(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		a := h.signup("pat@example.com")
		other := h.login("pat@example.com", goodPassword).tokens(t)

		r := h.do("PATCH", "/v1/user", a.access, map[string]any{"metadata": map[string]any{"theme": "dark"}})
		want(t, r, http.StatusOK, "")
		if md := r.json(t)["metadata"].(map[string]any); md["theme"] != "dark" {
			t.Errorf("metadata: %s", r.body)
		}
		// Unknown fields are never applied (ASVS 5.0 V2.2: mass assignment).
		r = h.do("PATCH", "/v1/user", a.access, map[string]any{"metadata": map[string]any{}, "email_verified": true, "role": "admin"})
		want(t, r, http.StatusOK, "")
		if r.json(t)["email_verified"] != false {
			t.Errorf("email_verified was applied: %s", r.body)
		}

		newPW := "a brand new passphrase"
		want(t, h.do("PATCH", "/v1/user", a.access, map[string]any{}), http.StatusBadRequest, "invalid_request")
		want(t, h.do("PATCH", "/v1/user", a.access, map[string]any{"password": newPW}), http.StatusBadRequest, "invalid_request")
		want(t, h.do("PATCH", "/v1/user", a.access, map[string]any{"password": newPW, "current_password": "not it at all"}), http.StatusBadRequest, "invalid_grant")
		want(t, h.do("PATCH", "/v1/user", a.access, map[string]any{"password": "12345678", "current_password": goodPassword}), http.StatusUnprocessableEntity, "weak_password")
		// An email change only asks (see TestEmailChange): the address
		// stays until the link sent to the new one is followed.
		if r := h.do("PATCH", "/v1/user", a.access, map[string]any{"email": "x@example.com", "current_password": goodPassword}); r.status != http.StatusAccepted || r.str(t, "email") != "pat@example.com" {
			t.Fatalf("email change: %d %s", r.status, r.body)
		}

		r = h.do("PATCH", "/v1/user", a.access, map[string]any{"password": newPW, "current_password": goodPassword})
		want(t, r, http.StatusOK, "")
		// A password change revokes every other session (ASVS 5.0 V7.4.3).
		want(t, h.do("GET", "/v1/user", other.access, nil), http.StatusUnauthorized, "invalid_token")
		want(t, h.refresh(other.refresh), http.StatusBadRequest, "invalid_grant")
		want(t, h.do("GET", "/v1/user", a.access, nil), http.StatusOK, "")
		want(t, h.login("pat@example.com", goodPassword), http.StatusBadRequest, "invalid_grant")
		want(t, h.login("pat@example.com", newPW), http.StatusOK, "")
	})
}

func TestRefreshRotation(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		t0 := h.signup("rot@example.com")

		r1 := h.refresh(t0.refresh)
		want(t, r1, http.StatusOK, "")
		t1 := r1.tokens(t)
		if t1.refresh == t0.refresh {
			t.Fatal("refresh token was not rotated")
		}
		_, c0 := jwtParts(t, t0.access)
		_, c1 := jwtParts(t, t1.access)
		if c0["sid"] != c1["sid"] {
			t.Errorf("sid changed across refresh: %v → %v", c0["sid"], c1["sid"])
		}

		// Inside the grace window the parent gets the same successor back.
		h.clock.Advance(5 * time.Second)
		again := h.refresh(t0.refresh)
		want(t, again, http.StatusOK, "")
		if got := again.tokens(t).refresh; got != t1.refresh {
			t.Fatalf("grace re-use: got a different successor %q, want %q", got, t1.refresh)
		}

		// Rotate once more; t0 is now a grandparent: re-use revokes the
		// session (RFC 9700 §4.14.2).
		t2 := h.refresh(t1.refresh).tokens(t)
		want(t, h.refresh(t0.refresh), http.StatusBadRequest, "invalid_grant")
		want(t, h.refresh(t2.refresh), http.StatusBadRequest, "invalid_grant")
		want(t, h.do("GET", "/v1/user", t2.access, nil), http.StatusUnauthorized, "invalid_token")
	})
}

func TestRefreshReuseAfterGraceRevokes(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		t0 := h.signup("late@example.com")
		t1 := h.refresh(t0.refresh).tokens(t)
		h.clock.Advance(11 * time.Second)
		want(t, h.refresh(t0.refresh), http.StatusBadRequest, "invalid_grant")
		want(t, h.refresh(t1.refresh), http.StatusBadRequest, "invalid_grant")
		for _, bad := range []string{"", "lrt_short", "xyz_" + strings.Repeat("a", 43), "lrt_" + strings.Repeat("a", 43)} {
			if bad == "" {
				continue
			}
			want(t, h.refresh(bad), http.StatusBadRequest, "invalid_grant")
		}
	})
}

// Twenty concurrent refreshes of one token: no 500, one live chain.
func TestRefreshConcurrent(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		t0 := h.signup("tabs@example.com")
		var wg sync.WaitGroup
		results := make([]response, 20)
		for i := range results {
			wg.Go(func() { results[i] = h.refresh(t0.refresh) })
		}
		wg.Wait()
		successors := map[string]bool{}
		for _, r := range results {
			if r.status != http.StatusOK {
				t.Fatalf("concurrent refresh: got %d %s, want 200", r.status, r.body)
			}
			successors[r.tokens(t).refresh] = true
		}
		if len(successors) != 1 {
			t.Fatalf("got %d distinct successors, want 1 (one chain)", len(successors))
		}
		for s := range successors {
			want(t, h.refresh(s), http.StatusOK, "")
		}
	})
}

func TestSessionLimits(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		tk := h.signup("idle@example.com")
		// Idle: an hour without a refresh ends the session.
		h.clock.Advance(61 * time.Minute)
		want(t, h.refresh(tk.refresh), http.StatusBadRequest, "invalid_grant")

		// Absolute: refreshing every 50 minutes still ends at 3 hours.
		tk = h.login("idle@example.com", goodPassword).tokens(t)
		rt := tk.refresh
		for range 3 {
			h.clock.Advance(50 * time.Minute)
			r := h.refresh(rt)
			want(t, r, http.StatusOK, "")
			rt = r.tokens(t).refresh
		}
		h.clock.Advance(31 * time.Minute) // 3h01m after sign-in
		want(t, h.refresh(rt), http.StatusBadRequest, "invalid_grant")
	}, withEnv("LATCH_SESSION_IDLE_TIMEOUT", "1h", "LATCH_SESSION_MAX_AGE", "3h"))
}

func TestLogoutScopes(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		a := h.signup("log@example.com")
		bb := h.login("log@example.com", goodPassword).tokens(t)
		c := h.login("log@example.com", goodPassword).tokens(t)

		want(t, h.do("POST", "/v1/logout", a.access, map[string]any{"scope": "everywhere"}), http.StatusBadRequest, "invalid_request")

		// others ends every session but the caller's.
		r := h.do("POST", "/v1/logout", a.access, map[string]any{"scope": "others"})
		want(t, r, http.StatusNoContent, "")
		want(t, h.do("GET", "/v1/user", bb.access, nil), http.StatusUnauthorized, "invalid_token")
		want(t, h.do("GET", "/v1/user", c.access, nil), http.StatusUnauthorized, "invalid_token")
		want(t, h.do("GET", "/v1/user", a.access, nil), http.StatusOK, "")

		// local (the default, no body) ends only the caller's.
		d := h.login("log@example.com", goodPassword).tokens(t)
		want(t, h.do("POST", "/v1/logout", a.access, nil), http.StatusNoContent, "")
		want(t, h.do("GET", "/v1/user", a.access, nil), http.StatusUnauthorized, "invalid_token")
		want(t, h.refresh(a.refresh), http.StatusBadRequest, "invalid_grant")
		want(t, h.do("GET", "/v1/user", d.access, nil), http.StatusOK, "")

		// global ends all.
		e := h.login("log@example.com", goodPassword).tokens(t)
		want(t, h.do("POST", "/v1/logout", d.access, map[string]any{"scope": "global"}), http.StatusNoContent, "")
		want(t, h.do("GET", "/v1/user", d.access, nil), http.StatusUnauthorized, "invalid_token")
		want(t, h.do("GET", "/v1/user", e.access, nil), http.StatusUnauthorized, "invalid_token")
		want(t, h.refresh(e.refresh), http.StatusBadRequest, "invalid_grant")
	})
}

func TestSessions(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		a := h.signup("ses@example.com")
		h.clock.Advance(time.Second)
		bb := h.do("POST", "/v1/token", "", map[string]any{"grant_type": "password", "email": "ses@example.com", "password": goodPassword}, "User-Agent", "phone/1.0").tokens(t)
		stranger := h.signup("stranger@example.com")

		r := h.do("GET", "/v1/sessions", a.access, nil)
		want(t, r, http.StatusOK, "")
		list := r.json(t)["sessions"].([]any)
		if len(list) != 2 {
			t.Fatalf("sessions: got %d, want 2: %s", len(list), r.body)
		}
		newest := list[0].(map[string]any)
		if newest["user_agent"] != "phone/1.0" || newest["current"] != false || list[1].(map[string]any)["current"] != true {
			t.Errorf("sessions: %s", r.body)
		}
		for _, k := range []string{"id", "created_at", "last_active_at", "expires_at", "ip"} {
			if _, ok := newest[k]; !ok {
				t.Errorf("session field %s missing", k)
			}
		}
		_, bClaims := jwtParts(t, bb.access)
		_, sClaims := jwtParts(t, stranger.access)
		// Another user's session, an unknown id and junk all read as 404.
		want(t, h.do("DELETE", "/v1/sessions/"+sClaims["sid"].(string), a.access, nil), http.StatusNotFound, "not_found")
		want(t, h.do("DELETE", "/v1/sessions/0193a8a0-0000-7000-8000-00000000ffff", a.access, nil), http.StatusNotFound, "not_found")
		want(t, h.do("DELETE", "/v1/sessions/..%2f..%2fetc", a.access, nil), http.StatusNotFound, "not_found")
		want(t, h.do("GET", "/v1/user", stranger.access, nil), http.StatusOK, "")

		want(t, h.do("DELETE", "/v1/sessions/"+bClaims["sid"].(string), a.access, nil), http.StatusNoContent, "")
		want(t, h.do("GET", "/v1/user", bb.access, nil), http.StatusUnauthorized, "invalid_token")
		want(t, h.refresh(bb.refresh), http.StatusBadRequest, "invalid_grant")
		if n := len(h.do("GET", "/v1/sessions", a.access, nil).json(t)["sessions"].([]any)); n != 1 {
			t.Errorf("sessions after revoke: got %d, want 1", n)
		}
	})
}

func TestDisabledAndDeletedUsers(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		tk := h.signup("dis@example.com")
		if _, err := h.auth.SetDisabled(ctx, "dis@example.com", true); err != nil {
			t.Fatal(err)
		}
		// A disabled user's sessions stop at once, and their password gets
		// the same answer as a wrong one.
		want(t, h.do("GET", "/v1/user", tk.access, nil), http.StatusUnauthorized, "invalid_token")
		want(t, h.refresh(tk.refresh), http.StatusBadRequest, "invalid_grant")
		disabled := h.login("dis@example.com", goodPassword)
		want(t, disabled, http.StatusBadRequest, "invalid_grant")
		if wrong := h.login("dis@example.com", "some wrong password"); string(wrong.body) != string(disabled.body) {
			t.Errorf("disabled and wrong-password answers differ: %s vs %s", disabled.body, wrong.body)
		}
		if _, err := h.auth.SetDisabled(ctx, "dis@example.com", false); err != nil {
			t.Fatal(err)
		}
		tk = h.login("dis@example.com", goodPassword).tokens(t)
		if err := h.auth.DeleteUser(ctx, "dis@example.com"); err != nil {
			t.Fatal(err)
		}
		want(t, h.do("GET", "/v1/user", tk.access, nil), http.StatusUnauthorized, "invalid_token")
		want(t, h.refresh(tk.refresh), http.StatusBadRequest, "invalid_grant")
		want(t, h.login("dis@example.com", goodPassword), http.StatusBadRequest, "invalid_grant")
	})
}

func TestVerificationRequired(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		first := h.do("POST", "/v1/signup", "", map[string]any{"email": "ver@example.com", "password": goodPassword})
		again := h.do("POST", "/v1/signup", "", map[string]any{"email": "ver@example.com", "password": "another fine password"})
		want(t, first, http.StatusAccepted, "")
		want(t, again, http.StatusAccepted, "")
		// The same answer whether or not the email was registered.
		if string(first.body) != string(again.body) || first.str(t, "status") != "verification_sent" {
			t.Errorf("answers: %s vs %s", first.body, again.body)
		}
		want(t, h.login("ver@example.com", goodPassword), http.StatusForbidden, "email_not_verified")
		want(t, h.login("ver@example.com", "wrong password x"), http.StatusBadRequest, "invalid_grant")
		if _, err := h.auth.VerifyEmail(context.Background(), "ver@example.com"); err != nil {
			t.Fatal(err)
		}
		r := h.login("ver@example.com", goodPassword)
		want(t, r, http.StatusOK, "")
		if _, c := jwtParts(t, r.tokens(t).access); c["email_verified"] != true {
			t.Errorf("email_verified claim: got %v", c["email_verified"])
		}
	}, withEnv("LATCH_SIGNUP_REQUIRE_VERIFICATION", "on"))
}

// ASVS 5.0 V6.3.1 / NIST SP 800-63B §5.2.2: throttling, with 429 and
// Retry-After even when the password is right.
func TestLoginThrottled(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		h.signup("thr@example.com")
		for i := range 5 {
			want(t, h.login("thr@example.com", fmt.Sprintf("wrong password %d", i)), http.StatusBadRequest, "invalid_grant")
		}
		want(t, h.login("thr@example.com", "wrong password 6"), http.StatusBadRequest, "invalid_grant")
		r := h.login("thr@example.com", goodPassword)
		want(t, r, http.StatusTooManyRequests, "rate_limited")
		if r.header.Get("Retry-After") != "1" {
			t.Errorf("Retry-After: got %q, want 1", r.header.Get("Retry-After"))
		}
		h.clock.Advance(time.Second)
		want(t, h.login("thr@example.com", goodPassword), http.StatusOK, "")
	})
}

func TestRevokeEndpoint(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		a := h.signup("rev@example.com")
		// RFC 7009 §2.2: 200 for an unknown token too.
		want(t, h.do("POST", "/v1/revoke", "", url.Values{"token": {"lrt_" + strings.Repeat("A", 43)}}), http.StatusOK, "")
		want(t, h.do("POST", "/v1/revoke", "", url.Values{"token": {"junk"}}), http.StatusOK, "")
		want(t, h.do("POST", "/v1/revoke", "", map[string]any{}), http.StatusBadRequest, "invalid_request")

		want(t, h.do("POST", "/v1/revoke", "", url.Values{"token": {a.refresh}, "token_type_hint": {"refresh_token"}}), http.StatusOK, "")
		want(t, h.refresh(a.refresh), http.StatusBadRequest, "invalid_grant")
		want(t, h.do("GET", "/v1/user", a.access, nil), http.StatusUnauthorized, "invalid_token")

		c := h.login("rev@example.com", goodPassword).tokens(t)
		want(t, h.do("POST", "/v1/revoke", "", map[string]any{"token": c.access}), http.StatusOK, "")
		want(t, h.refresh(c.refresh), http.StatusBadRequest, "invalid_grant")
	})
}

func TestIntrospect(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		off := newHarness(t, b)
		want(t, off.do("POST", "/v1/introspect", testAdminKey, url.Values{"token": {"x"}}), http.StatusForbidden, "forbidden")

		h := newHarness(t, b, withEnv("LATCH_ADMIN_KEY", testAdminKey))
		a := h.signup("int@example.com")
		want(t, h.do("POST", "/v1/introspect", "", url.Values{"token": {a.access}}), http.StatusUnauthorized, "invalid_token")
		want(t, h.do("POST", "/v1/introspect", "wrong-key", url.Values{"token": {a.access}}), http.StatusUnauthorized, "invalid_token")
		// A user's token where the admin key is needed: 403.
		want(t, h.do("POST", "/v1/introspect", a.access, url.Values{"token": {a.access}}), http.StatusForbidden, "forbidden")
		// The admin key is not a user token either.
		want(t, h.do("GET", "/v1/user", testAdminKey, nil), http.StatusForbidden, "forbidden")

		r := h.do("POST", "/v1/introspect", testAdminKey, url.Values{"token": {a.access}})
		want(t, r, http.StatusOK, "")
		m := r.json(t)
		if m["active"] != true || m["sub"] != a.userID || m["token_type"] != "access_token" || m["client_id"] != "latch" || m["iss"] != "http://localhost:8080" {
			t.Errorf("introspection: %s", r.body)
		}
		r = h.do("POST", "/v1/introspect", testAdminKey, map[string]any{"token": a.refresh})
		if m := r.json(t); m["active"] != true || m["token_type"] != "refresh_token" || m["sub"] != a.userID {
			t.Errorf("refresh introspection: %s", r.body)
		}
		want(t, h.do("POST", "/v1/logout", a.access, nil), http.StatusNoContent, "")
		// RFC 7662 §2.2: an inactive token gets {"active": false} and
		// nothing else.
		for _, tok := range []string{a.access, a.refresh, "junk"} {
			r = h.do("POST", "/v1/introspect", testAdminKey, url.Values{"token": {tok}})
			want(t, r, http.StatusOK, "")
			if got := strings.TrimSpace(string(r.body)); got != `{"active":false}` {
				t.Errorf("inactive: got %s, want {\"active\":false}", got)
			}
		}
	})
}
