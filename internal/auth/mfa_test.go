package auth

import (
	"context"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/mfa/totp"
	"github.com/latchauth/latch/internal/store"
)

// The second step's rules, tested where they live (the HTTP flow and
// the attacks are in internal/server's mfa_test.go and passkey_test.go).

// withApp signs email up and activates an authenticator app for it; it
// returns the app's secret and factor id.
func (f *fixture) withApp(t *testing.T, email string) (secret []byte, factorID string) {
	t.Helper()
	ctx := context.Background()
	tr := f.signup(t, email)
	p, err := f.svc.Authenticate(ctx, tr.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	e, err := f.svc.EnrolFactor(ctx, p, "totp", "", "")
	if err != nil {
		t.Fatal(err)
	}
	secret, err = base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(e.Secret, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.VerifyFactor(ctx, p, e.Factor.ID, totp.Code(secret, totp.Step(f.clock.now())), nil); err != nil {
		t.Fatal(err)
	}
	return secret, e.Factor.ID
}

// ticketOf signs in with the password and returns the second step's
// ticket, failing unless the sign-in stopped there.
func (f *fixture) ticketOf(t *testing.T, email string, c Requester) string {
	t.Helper()
	_, err := f.svc.PasswordLogin(context.Background(), email, rulesPassword, "", c)
	var m *MFARequired
	if !errors.As(err, &m) {
		t.Fatalf("password sign-in of a user with an app: %v; want *MFARequired", err)
	}
	return m.Token
}

// A ticket finishes where it started: one a page got cannot be turned
// into tokens by the API, nor an app's into a browser session, so a
// browser session's secret never leaves as a refresh token.
func TestMFATicketFinishesWhereItStarted(t *testing.T) {
	f := newFixture(t)
	secret, id := f.withApp(t, "ada@example.com")
	ctx := context.Background()
	code := func() string {
		f.clock.t = f.clock.t.Add(30 * time.Second)
		return totp.Code(secret, totp.Step(f.clock.now()))
	}

	page := f.ticketOf(t, "ada@example.com", Requester{Browser: true})
	if _, err := f.svc.FinishMFA(ctx, MFAAnswer{Token: page, FactorID: id, Code: code()}, Requester{}); !errors.Is(err, ErrInvalidMFAToken) {
		t.Fatalf("a page's ticket finished by the API: %v", err)
	}
	app := f.ticketOf(t, "ada@example.com", Requester{})
	if _, err := f.svc.FinishMFA(ctx, MFAAnswer{Token: app, FactorID: id, Code: code()}, Requester{Browser: true}); !errors.Is(err, ErrInvalidMFAToken) {
		t.Fatalf("an app's ticket finished by a page: %v", err)
	}
	page = f.ticketOf(t, "ada@example.com", Requester{Browser: true})
	tr, err := f.svc.FinishMFA(ctx, MFAAnswer{Token: page, FactorID: id, Code: code()}, Requester{Browser: true})
	if err != nil || tr.Session.Kind != "browser" || tr.Session.AAL != "aal2" || tr.AccessToken != "" {
		t.Fatalf("a page's ticket in the browser: %v, session %+v", err, tr.Session)
	}
}

// The ticket carries the credential epoch of its first step: a password
// change between the two steps makes the second fail, as a sign-in whose
// check a change overtook does (the funnel's rule).
func TestMFATicketDiesWithACredentialChange(t *testing.T) {
	f := newFixture(t)
	secret, id := f.withApp(t, "ada@example.com")
	ctx := context.Background()
	ticket := f.ticketOf(t, "ada@example.com", Requester{})
	u, err := f.db.GetUserByEmail(ctx, "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.UpdateUser(ctx, u.ID, func(x *store.User) error { x.CredentialEpoch++; return nil }); err != nil {
		t.Fatal(err)
	}
	f.clock.t = f.clock.t.Add(30 * time.Second)
	_, err = f.svc.FinishMFA(ctx, MFAAnswer{Token: ticket, FactorID: id, Code: totp.Code(secret, totp.Step(f.clock.now()))}, Requester{})
	if !errors.Is(err, ErrInvalidMFAToken) {
		t.Fatalf("second step after a password change: %v; want ErrInvalidMFAToken", err)
	}
}

// An mfa_token says nothing it should not: it is sealed, so neither the
// user's id nor the first factor's method can be read from it, and one
// sealed under another secret is refused.
func TestMFATicketIsSealed(t *testing.T) {
	f := newFixture(t)
	f.withApp(t, "ada@example.com")
	ticket := f.ticketOf(t, "ada@example.com", Requester{})
	u, _ := f.db.GetUserByEmail(context.Background(), "ada@example.com")
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(ticket, mfaPrefix))
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{u.ID, "pwd", "ada@example.com"} {
		if strings.Contains(string(raw), leak) || strings.Contains(ticket, leak) {
			t.Fatalf("the mfa_token shows %q", leak)
		}
	}
	other := &Service{mac: testMAC("another-secret"), now: f.clock.now}
	if _, err := other.openTicket(ticket); !errors.Is(err, ErrInvalidMFAToken) {
		t.Fatalf("a ticket under another secret: %v", err)
	}
}
