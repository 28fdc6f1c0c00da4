package server_test

import (
	"net/http"
	"net/url"
	"testing"
	"unicode/utf8"
)

// NUL and text that is not UTF-8 are bad input: they get 400
// invalid_request from every field on both databases, never a 500 from
// PostgreSQL refusing to store them (SQLSTATE 22P05, 22021). ASVS 5.0
// V1.2.x / V2.2.1 (input validated against an allow-list of what the
// field may hold) and V16.5.3 (no unhandled errors for bad input);
// RFC 8259 §8.1 (JSON text exchanged between systems is UTF-8).
func TestNULAndInvalidUTF8Refused(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		tk := h.signup("utf@example.com")
		signup := func(extra string) string {
			return `{"email":"utf-new@example.com","password":"` + goodPassword + `"` + extra + `}`
		}
		cases := []struct {
			name, method, path, body string
		}{
			{"NUL escape in metadata value", "POST", "/v1/signup", signup(`,"metadata":{"name":"a\u0000b"}`)},
			{"NUL escape in metadata key", "POST", "/v1/signup", signup(`,"metadata":{"a\u0000":1}`)},
			{"raw invalid UTF-8 in metadata", "POST", "/v1/signup", signup(`,"metadata":{"name":"caf` + "\xe9" + `"}`)},
			{"lone surrogate escape in metadata", "POST", "/v1/signup", signup(`,"metadata":{"name":"\ud800"}`)},
			{"NUL escape in password", "POST", "/v1/signup", `{"email":"utf-new@example.com","password":"` + goodPassword + `\u0000"}`},
			{"raw invalid UTF-8 in email", "POST", "/v1/signup", `{"email":"utf-` + "\xff" + `@example.com","password":"` + goodPassword + `"}`},
			{"NUL escape in email at sign-in", "POST", "/v1/token", `{"grant_type":"password","email":"utf\u0000@example.com","password":"` + goodPassword + `"}`},
			{"raw invalid UTF-8 in refresh token", "POST", "/v1/token", `{"grant_type":"refresh_token","refresh_token":"` + "\xff" + `"}`},
			{"NUL escape in PATCH metadata", "PATCH", "/v1/user", `{"metadata":{"x":"\u0000"}}`},
			{"raw invalid UTF-8 in PATCH metadata", "PATCH", "/v1/user", `{"metadata":{"x":"` + "\xff\xfe" + `"}}`},
			{"NUL escape in recover", "POST", "/v1/recover", `{"email":"utf@example.com\u0000"}`},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				want(t, h.do(c.method, c.path, tk.access, c.body), http.StatusBadRequest, "invalid_request")
			})
		}
		forms := []struct{ name, body string }{
			{"NUL in form email", "grant_type=password&email=a%00b&password=x"},
			{"NUL in form email of a real address", "grant_type=password&email=utf%40example.com%00&password=" + url.QueryEscape(goodPassword)},
			{"invalid UTF-8 in form email", "grant_type=password&email=utf%ff%40example.com&password=x"},
			{"invalid UTF-8 in form password", "grant_type=password&email=utf%40example.com&password=%ff%fe"},
		}
		for _, c := range forms {
			t.Run(c.name, func(t *testing.T) {
				r := h.do("POST", "/v1/token", "", c.body, "Content-Type", "application/x-www-form-urlencoded")
				want(t, r, http.StatusBadRequest, "invalid_request")
			})
		}
		// Nothing was stored by the refused requests.
		want(t, h.login("utf-new@example.com", goodPassword), http.StatusBadRequest, "invalid_grant")
	})
}

// A client whose User-Agent header is Latin-1 (bytes that are not UTF-8,
// which HTTP allows as obs-text, RFC 9110 §5.5) signs in, and its session
// keeps the header made valid. Before, PostgreSQL refused the session row
// (22021) and such a client could never sign in: ASVS 5.0 V16.5.3.
func TestLatin1UserAgentSignsIn(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		const ua = "Mozilla/5.0 (Caf\xe9 Browser\xff)"
		r := h.do("POST", "/v1/signup", "", map[string]any{"email": "latin1@example.com", "password": goodPassword}, "User-Agent", ua)
		want(t, r, http.StatusCreated, "")
		r = h.do("POST", "/v1/token", "", map[string]any{"grant_type": "password", "email": "latin1@example.com", "password": goodPassword}, "User-Agent", ua)
		want(t, r, http.StatusOK, "")
		tk := r.tokens(t)
		r = h.do("GET", "/v1/sessions", tk.access, nil)
		want(t, r, http.StatusOK, "")
		for _, s := range r.json(t)["sessions"].([]any) {
			got := s.(map[string]any)["user_agent"].(string)
			if wantUA := "Mozilla/5.0 (Caf\uFFFD Browser\uFFFD)"; got != wantUA {
				t.Errorf("stored user agent: got %q, want %q", got, wantUA)
			}
			if !utf8.ValidString(got) {
				t.Errorf("stored user agent is not UTF-8: %q", got)
			}
		}
		r = h.refresh(tk.refresh)
		want(t, r, http.StatusOK, "")
	})
}

// encoding/json matches an object key to a field case-insensitively and
// with Unicode simple folding, so "PASSWORD", "Email" and "paſsword"
// (U+017F) all land in the password or email field: a second spelling
// beats the duplicate-key check and overrides what a proxy or a WAF read
// ({"password":"wrong","PASSWORD":"right"} signed in). A key must be the
// field's exact name; keys matching no field are still ignored
// (RFC 6749 §3.2), and the keys inside metadata are the user's own.
// ASVS 5.0 V1.5.3 / V2.2.1 (one interpretation of input, strict
// deserialisation); RFC 8259 §4 (names should be unique).
func TestFieldNamesMatchExactly(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		h.signup("exact@example.com")
		const right = `"` + goodPassword + `"`
		refused := []struct{ name, path, body string }{
			{"password then PASSWORD", "/v1/token", `{"grant_type":"password","email":"exact@example.com","password":"wrong password","PASSWORD":` + right + `}`},
			{"PASSWORD alone", "/v1/token", `{"grant_type":"password","email":"exact@example.com","PASSWORD":` + right + `}`},
			{"long s (U+017F)", "/v1/token", `{"grant_type":"password","email":"exact@example.com","pa\u017fsword":` + right + `}`},
			{"long s raw", "/v1/token", `{"grant_type":"password","email":"exact@example.com","paſsword":` + right + `}`},
			{"Kelvin sign (U+212A) in refresh_token", "/v1/token", `{"grant_type":"refresh_token","refresh_to\u212aen":"lrt_x"}`},
			{"Grant_Type", "/v1/token", `{"Grant_Type":"password","email":"exact@example.com","password":` + right + `}`},
			{"email then Email at sign-up", "/v1/signup", `{"email":"first@example.com","Email":"second@example.com","password":` + right + `}`},
			{"METADATA", "/v1/signup", `{"email":"meta@example.com","password":` + right + `,"METADATA":{"a":1}}`},
		}
		for _, c := range refused {
			t.Run(c.name, func(t *testing.T) {
				want(t, h.do("POST", c.path, "", c.body), http.StatusBadRequest, "invalid_request")
			})
		}
		// Neither spelling registered anyone.
		for _, e := range []string{"first@example.com", "second@example.com", "meta@example.com"} {
			want(t, h.login(e, goodPassword), http.StatusBadRequest, "invalid_grant")
		}

		// Unknown fields are ignored, never applied; metadata's keys are free.
		want(t, h.do("POST", "/v1/token", "", `{"grant_type":"password","email":"exact@example.com","password":`+right+`,"client_id":"app","scope":"x"}`), http.StatusOK, "")
		r := h.do("POST", "/v1/signup", "", `{"email":"free@example.com","password":`+right+`,"metadata":{"Name":"a","name":"b","NAME":"c","pa\u017fsword":{"Password":1,"password":2}}}`)
		want(t, r, http.StatusCreated, "")
		meta := r.json(t)["user"].(map[string]any)["metadata"].(map[string]any)
		if meta["Name"] != "a" || meta["name"] != "b" || meta["NAME"] != "c" {
			t.Errorf("metadata: got %v, want its keys as sent", meta)
		}
		// The patch body's optional fields are held to the same rule.
		tk := r.tokens(t)
		want(t, h.do("PATCH", "/v1/user", tk.access, `{"Current_Password":`+right+`,"password":"a new long passphrase"}`), http.StatusBadRequest, "invalid_request")
	})
}

// Through the API, on both databases: an address with a bidi override, a
// zero-width space or a Latin/Cyrillic mixture in one label is refused at
// sign-up and as the new address of an email change (where an RLO address
// was rendered into the old address's notice, spoofing it), while
// internationalised addresses in one script sign up. UTS #39 §5.2,
// OWASP ASVS 5.0 V2.2.1; TestParseEmailRefusesSpoofing has the full list.
func TestSpoofableEmailRefused(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		tk := h.signup("plain@example.com")
		for _, addr := range []string{"ada\u202elpmaxe@example.com", "ad\u200ba@example.com", "p\u0430ypal@example.com"} {
			want(t, h.do("POST", "/v1/signup", "", map[string]any{"email": addr, "password": goodPassword}), http.StatusBadRequest, "invalid_request")
			want(t, h.do("PATCH", "/v1/user", tk.access, map[string]any{"email": addr, "current_password": goodPassword}), http.StatusBadRequest, "invalid_request")
		}
		for _, addr := range []string{"иван@пример.рф", "ελένη@παράδειγμα.ελ", "jürgen@müller.de"} {
			r := h.do("POST", "/v1/signup", "", map[string]any{"email": addr, "password": goodPassword})
			want(t, r, http.StatusCreated, "")
			if got := r.json(t)["user"].(map[string]any)["email"]; got != addr {
				t.Errorf("stored address: got %v, want %q", got, addr)
			}
			want(t, h.login(addr, goodPassword), http.StatusOK, "")
		}
	})
}
