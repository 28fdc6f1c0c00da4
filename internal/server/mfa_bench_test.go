package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/mfa/passkey/passkeytest"
)

// The cost of the second step (issue 14 "Measured"): grant_type=mfa with
// a TOTP code, and the passkey grant, at 8 clients at once, beside the
// refresh grant measured the same way in the same run. Their cost should
// be the store and one MAC or signature check, never a password hash.
//
// Each benchmark runs in rounds: between rounds, untimed, the harness's
// clock moves on 30 s (a TOTP step is accepted once) and every client
// gets what its next request needs (an mfa_token, which costs a password
// check); then the 8 clients send their requests at once, timed. ns/op
// is the round's wall time per request: 1e9/ns-per-op is requests per
// second at 8 clients.

const benchClients = 8

// rounds runs b.N requests as rounds of benchClients concurrent ones:
// prepare(i) (untimed) readies client i's next request, send(i) (timed)
// sends it.
func rounds(b *testing.B, prepare func(i int), send func(i int) error) {
	b.Helper()
	b.StopTimer()
	b.ResetTimer()
	for done := 0; done < b.N; done += benchClients {
		for i := range benchClients {
			prepare(i)
		}
		errs := make([]error, benchClients)
		var wg sync.WaitGroup
		b.StartTimer()
		for i := range benchClients {
			wg.Go(func() { errs[i] = send(i) })
		}
		wg.Wait()
		b.StopTimer()
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// onEachBackend runs bench on a fresh harness per database.
func onEachBackend(b *testing.B, bench func(b *testing.B, h *harness)) {
	for _, be := range backends() {
		b.Run(be.name, func(b *testing.B) { bench(b, newHarness(b, be)) })
	}
}

// BenchmarkMFAGrantTOTP is grant_type=mfa with a TOTP code.
func BenchmarkMFAGrantTOTP(b *testing.B) {
	onEachBackend(b, func(b *testing.B, h *harness) {
		users := make([]totpUser, benchClients)
		for i := range users {
			users[i] = h.enrolTOTP(b, fmt.Sprintf("bench%d@example.com", i))
		}
		tickets := make([]string, benchClients)
		codes := make([]string, benchClients)
		rounds(b, func(i int) {
			if i == 0 {
				h.clock.Advance(30 * time.Second)
			}
			tickets[i] = h.mfaTicket(b, users[i].email)
			codes[i] = totpAt(users[i].secret, h.clock.Now())
		}, func(i int) error {
			r := h.mfa(map[string]any{"mfa_token": tickets[i], "factor_id": users[i].factorID, "code": codes[i]})
			if r.status != http.StatusOK {
				return fmt.Errorf("mfa grant: %d %s", r.status, r.body)
			}
			return nil
		})
	})
}

// BenchmarkRefreshGrant8 is the refresh grant measured as the grants
// above are: the yardstick.
func BenchmarkRefreshGrant8(b *testing.B) {
	onEachBackend(b, func(b *testing.B, h *harness) {
		rts := make([]string, benchClients)
		for i := range rts {
			rts[i] = h.signup(fmt.Sprintf("bench%d@example.com", i)).refresh
		}
		rounds(b, func(int) {}, func(i int) error {
			r := h.refresh(rts[i])
			if r.status != http.StatusOK {
				return fmt.Errorf("refresh: %d %s", r.status, r.body)
			}
			rts[i] = r.str(b, "refresh_token")
			return nil
		})
	})
}

// BenchmarkPasskeyGrant is a passkey sign-in: the challenge, the
// authenticator's answer (a software one; its ES256 signature is the
// client's cost, in the round but small) and grant_type=passkey. Each
// client has its own passkey, as each person does: concurrent answers
// from one authenticator could reach latch out of order, and a sign
// count that goes backwards is refused.
func BenchmarkPasskeyGrant(b *testing.B) {
	onEachBackend(b, func(b *testing.B, h *harness) {
		users := make([]keyUser, benchClients)
		for i := range users {
			users[i] = h.enrolKey(b, fmt.Sprintf("bench%d@example.com", i), passkeytest.New(testOrigin))
		}
		rounds(b, func(int) {}, func(i int) error {
			r := h.do("POST", "/v1/passkeys/challenge", "", nil)
			var c struct {
				ID      string          `json:"challenge_id"`
				Options json.RawMessage `json:"options"`
			}
			if err := json.Unmarshal(r.body, &c); err != nil {
				return err
			}
			a, err := users[i].key.Get(c.Options)
			if err != nil {
				return err
			}
			if r := h.passkeyGrant(c.ID, a); r.status != http.StatusOK {
				return fmt.Errorf("passkey grant: %d %s", r.status, r.body)
			}
			return nil
		})
	})
}
