package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/mfa/passkey/passkeytest"
	"github.com/latchauth/latch/internal/store"
)

// Security keys and passkeys through the real router, on both databases,
// with a software authenticator that makes real attestation and assertion
// objects (ES256 signatures, CBOR, client data): latch's verification is
// never stubbed. The harness's public URL is http://localhost:8080, so
// the relying party is localhost and that is the one allowed origin.

const testOrigin = "http://localhost:8080"

// keyUser is a user with an active WebAuthn factor.
type keyUser struct {
	email, factorID string
	key             *passkeytest.Authenticator
	credID          []byte
	tokens          tokens
}

// enrolKey signs email up and registers a credential of a new software
// authenticator as its factor.
func (h *harness) enrolKey(t testing.TB, email string, key *passkeytest.Authenticator) keyUser {
	t.Helper()
	tk := h.signup(email)
	r := h.do("POST", "/v1/factors", tk.access, map[string]any{"type": "webauthn", "name": "YubiKey"})
	want(t, r, http.StatusCreated, "")
	var body struct {
		ID      string          `json:"id"`
		Options json.RawMessage `json:"options"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || body.ID == "" || len(body.Options) == 0 {
		t.Fatalf("webauthn enrolment: %v %s", err, r.body)
	}
	cred, err := key.Create(body.Options)
	if err != nil {
		t.Fatalf("authenticator create: %v", err)
	}
	r = h.do("POST", "/v1/factors/"+body.ID+"/verify", tk.access, map[string]any{"credential": json.RawMessage(cred)})
	want(t, r, http.StatusOK, "")
	creds := key.Credentials()
	return keyUser{email: email, factorID: body.ID, key: key, credID: creds[len(creds)-1].ID, tokens: tk}
}

// factorChallenge asks for the request options of a factor for a ticket.
func (h *harness) factorChallenge(t testing.TB, ticket, factorID string) json.RawMessage {
	t.Helper()
	r := h.do("POST", "/v1/factors/"+factorID+"/challenge", "", map[string]any{"mfa_token": ticket})
	want(t, r, http.StatusOK, "")
	var body struct {
		Options json.RawMessage `json:"options"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || len(body.Options) == 0 {
		t.Fatalf("factor challenge: %s", r.body)
	}
	return body.Options
}

// passkeyChallenge asks for a passkey sign-in's challenge.
func (h *harness) passkeyChallenge(t testing.TB) (string, json.RawMessage) {
	t.Helper()
	r := h.do("POST", "/v1/passkeys/challenge", "", nil)
	want(t, r, http.StatusOK, "")
	var body struct {
		ID      string          `json:"challenge_id"`
		Options json.RawMessage `json:"options"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || body.ID == "" {
		t.Fatalf("passkey challenge: %s", r.body)
	}
	return body.ID, body.Options
}

func (h *harness) passkeyGrant(challengeID string, cred json.RawMessage) response {
	h.t.Helper()
	return h.do("POST", "/v1/token", "", map[string]any{"grant_type": "passkey", "challenge_id": challengeID, "credential": cred})
}

func assertion(t testing.TB, key *passkeytest.Authenticator, options json.RawMessage, opts ...passkeytest.Option) json.RawMessage {
	t.Helper()
	a, err := key.Get(options, opts...)
	if err != nil {
		t.Fatalf("authenticator get: %v", err)
	}
	return a
}

// A security key as the second factor: enrolled with a real attestation,
// then answering the challenge of an mfa_token (WebAuthn Level 3 §7.2;
// NIST SP 800-63B §5.1.8 — a multi-factor cryptographic authenticator).
func TestWebAuthnSecondFactor(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		u := h.enrolKey(t, "ada@example.com", passkeytest.New(testOrigin))
		ticket := h.mfaTicket(t, u.email)
		opts := h.factorChallenge(t, ticket, u.factorID)
		r := h.mfa(map[string]any{"mfa_token": ticket, "factor_id": u.factorID, "credential": assertion(t, u.key, opts)})
		want(t, r, http.StatusOK, "")
		c := claimsOf(t, r.str(t, "access_token"))
		if amr := amrOf(c); c["aal"] != "aal2" || len(amr) != 3 || amr[0] != "pwd" || (amr[1] != "hwk" && amr[1] != "swk") || amr[2] != "mfa" {
			t.Fatalf("key as second factor: aal %v amr %v", c["aal"], c["amr"])
		}
		// The form encoding carries the credential as a JSON string.
		ticket = h.mfaTicket(t, u.email)
		opts = h.factorChallenge(t, ticket, u.factorID)
		form := map[string][]string{"grant_type": {"mfa"}, "mfa_token": {ticket}, "factor_id": {u.factorID}, "credential": {string(assertion(t, u.key, opts))}}
		want(t, h.do("POST", "/v1/token", "", url.Values(form)), http.StatusOK, "")
	})
}

// The attacks on a WebAuthn answer, each refused (WebAuthn Level 3 §7.2
// steps 11–22; ASVS 5.0 V6.5.6): a wrong origin or RP id, a replayed
// challenge, another user's credential, a sign count that goes backwards
// (flagged and audited), garbage.
func TestWebAuthnAttacks(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		u := h.enrolKey(t, "ada@example.com", passkeytest.New(testOrigin))
		mallory := h.enrolKey(t, "mallory@example.com", passkeytest.New(testOrigin))
		second := func(opts ...passkeytest.Option) response {
			ticket := h.mfaTicket(t, u.email)
			o := h.factorChallenge(t, ticket, u.factorID)
			return h.mfa(map[string]any{"mfa_token": ticket, "factor_id": u.factorID, "credential": assertion(t, u.key, o, opts...)})
		}
		t.Run("wrong origin", func(t *testing.T) {
			want(t, second(passkeytest.WithOrigin("https://evil.example")), http.StatusBadRequest, "invalid_mfa")
		})
		t.Run("wrong rp id", func(t *testing.T) {
			// An authenticator asked for evil.example signs over its hash.
			r := second(passkeytest.WithRPID("evil.example"), passkeytest.WithOrigin("http://evil.example"))
			want(t, r, http.StatusBadRequest, "invalid_mfa")
		})
		t.Run("replayed challenge", func(t *testing.T) {
			ticket := h.mfaTicket(t, u.email)
			o := h.factorChallenge(t, ticket, u.factorID)
			a := assertion(t, u.key, o)
			want(t, h.mfa(map[string]any{"mfa_token": ticket, "factor_id": u.factorID, "credential": a}), http.StatusOK, "")
			// The same answer with a new ticket: its challenge differs.
			want(t, h.mfa(map[string]any{"mfa_token": h.mfaTicket(t, u.email), "factor_id": u.factorID, "credential": a}), http.StatusBadRequest, "invalid_mfa")
		})
		t.Run("another user's credential", func(t *testing.T) {
			ticket := h.mfaTicket(t, u.email)
			o := h.factorChallenge(t, ticket, u.factorID)
			// Mallory's key answers Ada's challenge: a client that empties
			// the allow list, so Mallory's authenticator signs Ada's
			// challenge with its own credential.
			var m map[string]any
			if err := json.Unmarshal(o, &m); err != nil {
				t.Fatal(err)
			}
			delete(m, "allowCredentials")
			forged, _ := json.Marshal(m)
			a := assertion(t, mallory.key, forged)
			want(t, h.mfa(map[string]any{"mfa_token": ticket, "factor_id": u.factorID, "credential": a}), http.StatusBadRequest, "invalid_mfa")
			want(t, h.mfa(map[string]any{"mfa_token": ticket, "factor_id": mallory.factorID, "credential": a}), http.StatusBadRequest, "invalid_mfa")
			// Mallory's factor id with Ada's ticket.
			want(t, h.do("POST", "/v1/factors/"+mallory.factorID+"/challenge", "", map[string]any{"mfa_token": ticket}), http.StatusNotFound, "not_found")
		})
		t.Run("sign count backwards", func(t *testing.T) {
			want(t, second(), http.StatusOK, "")
			if err := u.key.SetSignCount(u.credID, 1); err != nil {
				t.Fatal(err)
			}
			want(t, second(), http.StatusBadRequest, "invalid_mfa")
			events, err := h.db.ListAudit(context.Background(), store.ListAuditOptions{Type: "webauthn.sign_count"})
			if err != nil || len(events) != 1 {
				t.Fatalf("sign count audit: %v, %v", events, err)
			}
		})
		t.Run("garbage", func(t *testing.T) {
			ticket := h.mfaTicket(t, u.email)
			for _, bad := range []string{`{}`, `{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{}}`, `[1,2,3]`, `"x"`} {
				want(t, h.mfa(map[string]any{"mfa_token": ticket, "factor_id": u.factorID, "credential": json.RawMessage(bad)}), http.StatusBadRequest, "invalid_mfa")
			}
			want(t, h.do("POST", "/v1/token", "", `{"grant_type":"mfa","mfa_token":"`+ticket+`","factor_id":"`+u.factorID+`","credential":{`), http.StatusBadRequest, "invalid_request")
		})
		t.Run("enrolment answered for another challenge", func(t *testing.T) {
			r := h.do("POST", "/v1/factors", mallory.tokens.access, map[string]any{"type": "webauthn"})
			// Mallory's session is aal2 (she enrolled): a second key.
			want(t, r, http.StatusCreated, "")
			id := r.str(t, "id")
			other := h.do("POST", "/v1/factors", mallory.tokens.access, map[string]any{"type": "webauthn"})
			var body struct {
				Options json.RawMessage `json:"options"`
			}
			json.Unmarshal(other.body, &body)
			cred, err := passkeytest.New(testOrigin).Create(body.Options)
			if err != nil {
				t.Fatal(err)
			}
			want(t, h.do("POST", "/v1/factors/"+id+"/verify", mallory.tokens.access, map[string]any{"credential": json.RawMessage(cred)}), http.StatusBadRequest, "invalid_mfa")
		})
	})
}

// A passkey as the first factor: no email asked; with user verification
// it is two factors in one (aal2); without, one, and a user with another
// factor is asked for it (DESIGN.md; NIST SP 800-63B §4.2.1). Each
// challenge signs in once (WebAuthn Level 3 §13.4.3).
func TestPasskeySignIn(t *testing.T) {
	forEachHarness(t, func(t *testing.T, h *harness) {
		u := h.enrolKey(t, "ada@example.com", passkeytest.New(testOrigin))
		id, opts := h.passkeyChallenge(t)
		a := assertion(t, u.key, opts)
		r := h.passkeyGrant(id, a)
		want(t, r, http.StatusOK, "")
		c := claimsOf(t, r.str(t, "access_token"))
		if c["aal"] != "aal2" || len(amrOf(c)) != 1 || c["email"] != u.email {
			t.Fatalf("passkey sign-in: %v", c)
		}
		// Once per challenge: the same answer again is refused.
		want(t, h.passkeyGrant(id, a), http.StatusBadRequest, "invalid_grant")
		// An answer for one challenge under another challenge's id.
		id2, _ := h.passkeyChallenge(t)
		want(t, h.passkeyGrant(id2, a), http.StatusBadRequest, "invalid_grant")
		// Expired after 5 minutes.
		id3, opts3 := h.passkeyChallenge(t)
		h.clock.Advance(5*time.Minute + time.Second)
		want(t, h.passkeyGrant(id3, assertion(t, u.key, opts3)), http.StatusBadRequest, "invalid_grant")
		// Forged and malformed ids and answers.
		for _, bad := range []string{"", "lpc_", "lpc_AAAA", id[:len(id)-2] + "AA", "lmf_" + id[4:]} {
			r := h.passkeyGrant(bad, a)
			if r.status != http.StatusBadRequest {
				t.Fatalf("challenge_id %q: %d %s", bad, r.status, r.body)
			}
		}
		id4, opts4 := h.passkeyChallenge(t)
		want(t, h.passkeyGrant(id4, assertion(t, u.key, opts4, passkeytest.WithOrigin("https://evil.example"))), http.StatusBadRequest, "invalid_grant")
		// An unknown credential (never registered).
		stranger := passkeytest.New(testOrigin)
		if _, err := stranger.Create(creationOptionsFor(t, h)); err != nil {
			t.Fatal(err)
		}
		id5, opts5 := h.passkeyChallenge(t)
		want(t, h.passkeyGrant(id5, assertion(t, stranger, opts5)), http.StatusBadRequest, "invalid_grant")

		// Without user verification: one factor.
		id6, opts6 := h.passkeyChallenge(t)
		r = h.passkeyGrant(id6, assertion(t, u.key, opts6, passkeytest.WithoutUserVerification()))
		want(t, r, http.StatusOK, "")
		if c := claimsOf(t, r.str(t, "access_token")); c["aal"] != "aal1" {
			t.Fatalf("passkey without user verification: aal %v, want aal1", c["aal"])
		}
		// That aal1 session may not remove the factor, nor change the
		// password (ASVS 5.0 V6.3.x: changing authentication factors
		// needs the level the account has).
		one := r.str(t, "access_token")
		want(t, h.do("DELETE", "/v1/factors/"+u.factorID, one, nil), http.StatusUnauthorized, "insufficient_user_authentication")
		want(t, h.do("PATCH", "/v1/user", one, map[string]any{"password": "a brand new passphrase", "current_password": goodPassword}), http.StatusUnauthorized, "insufficient_user_authentication")
		// With an authenticator app too, the app is asked for.
		ticket := h.mfaTicket(t, u.email)
		o := h.factorChallenge(t, ticket, u.factorID)
		r = h.mfa(map[string]any{"mfa_token": ticket, "factor_id": u.factorID, "credential": assertion(t, u.key, o)})
		want(t, r, http.StatusOK, "")
		access := r.str(t, "access_token")
		r = h.do("POST", "/v1/factors", access, map[string]any{"type": "totp"})
		want(t, r, http.StatusCreated, "")
		totpID, secret := r.str(t, "id"), decodeSecret(t, r.str(t, "secret"))
		want(t, h.do("POST", "/v1/factors/"+totpID+"/verify", access, map[string]any{"code": totpAt(secret, h.clock.Now())}), http.StatusOK, "")
		id7, opts7 := h.passkeyChallenge(t)
		r = h.passkeyGrant(id7, assertion(t, u.key, opts7, passkeytest.WithoutUserVerification()))
		want(t, r, http.StatusForbidden, "mfa_required")
		offered := r.json(t)["factors"].([]any)
		for _, f := range offered {
			if f.(map[string]any)["id"] == u.factorID {
				t.Fatalf("the passkey just used is offered as the second factor: %s", r.body)
			}
		}
		h.clock.Advance(30 * time.Second)
		r = h.mfa(map[string]any{"mfa_token": r.str(t, "mfa_token"), "factor_id": totpID, "code": totpAt(secret, h.clock.Now())})
		want(t, r, http.StatusOK, "")
		if c := claimsOf(t, r.str(t, "access_token")); c["aal"] != "aal2" || !slices.Contains(amrOf(c), "otp") {
			t.Fatalf("passkey + app: %v %v", c["aal"], c["amr"])
		}
	})
}

// creationOptionsFor is a registration for a throwaway account, for an
// authenticator that must hold a credential latch never saw verified.
func creationOptionsFor(t testing.TB, h *harness) json.RawMessage {
	t.Helper()
	tk := h.signup("stranger@example.com")
	r := h.do("POST", "/v1/factors", tk.access, map[string]any{"type": "webauthn"})
	want(t, r, http.StatusCreated, "")
	var body struct {
		Options json.RawMessage `json:"options"`
	}
	json.Unmarshal(r.body, &body)
	return body.Options
}
