package auth

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/connector"
	"github.com/latchauth/latch/internal/store"
)

// The linking rules of social sign-in (DESIGN.md "Social login"), tested
// where they live: what a provider's word about a person does to latch's
// accounts. The connectors that produce that word are tested against
// real and documented providers in internal/connector; the HTTP flow in
// internal/server.

// testProviders: Google is trusted for email (its default), "corp" (a
// generic OpenID Provider) is not, and "closed" allows no sign-up.
var testProviders = []Provider{
	{ID: "google", Name: "Google", TrustEmail: true, AllowSignup: true},
	{ID: "apple", Name: "Apple", TrustEmail: true, AllowSignup: true},
	{ID: "corp", Name: "Corp", TrustEmail: false, AllowSignup: true},
	{ID: "closed", Name: "Closed", TrustEmail: true, AllowSignup: false},
}

func (f *fixture) provider(id string) Provider {
	p, ok := f.svc.Provider(id)
	if !ok {
		panic("no test provider " + id)
	}
	return p
}

func (f *fixture) fed(t *testing.T, provider string, id connector.Identity) (TokenResponse, error) {
	t.Helper()
	return f.svc.federatedSignIn(context.Background(), f.provider(provider), id, Requester{IP: "192.0.2.1"})
}

// signInWith is a federated sign-in that must succeed.
func (f *fixture) signInWith(t *testing.T, provider string, id connector.Identity) TokenResponse {
	t.Helper()
	tr, err := f.fed(t, provider, id)
	if err != nil {
		t.Fatalf("sign-in with %s as %s: %v", provider, id.Subject, err)
	}
	return tr
}

func (f *fixture) identities(t *testing.T, userID string) []store.Identity {
	t.Helper()
	list, err := f.db.ListIdentities(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func (f *fixture) events(t *testing.T, typ string) []store.AuditEvent {
	t.Helper()
	list, err := f.db.ListAudit(context.Background(), store.ListAuditOptions{Type: typ})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func (f *fixture) mailKinds(t *testing.T) []string {
	t.Helper()
	now := f.clock.now()
	msgs, err := f.db.ClaimMail(context.Background(), now.Add(time.Hour), now.Add(2*time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, m := range msgs {
		kinds = append(kinds, m.Kind+" "+m.To)
	}
	return kinds
}

// A new person whose provider vouches for the address gets an account
// with that address, verified and without a password; the token says
// how they signed in (amr fed, idp).
func TestFederatedSignUp(t *testing.T) {
	f := newFixture(t)
	tr := f.signInWith(t, "google", connector.Identity{Subject: "g-1", Email: "New@Example.com", EmailVerified: true})
	u := tr.User
	if u.Email != "new@example.com" || !u.EmailVerified || u.PasswordHash != "" {
		t.Fatalf("user %q verified=%v password=%v; want the provider's address, verified, no password", u.Email, u.EmailVerified, u.PasswordHash != "")
	}
	if !slices.Equal(tr.Claims.AMR, []string{"fed"}) || tr.Claims.IDP != "google" {
		t.Fatalf("claims amr %v idp %q; want [fed] google", tr.Claims.AMR, tr.Claims.IDP)
	}
	ids := f.identities(t, u.ID)
	if len(ids) != 1 || ids[0].Provider != "google" || ids[0].Subject != "g-1" {
		t.Fatalf("identities %+v", ids)
	}
	// The same person again: the same account, no new identity.
	again, err := f.fed(t, "google", connector.Identity{Subject: "g-1", Email: "new@example.com", EmailVerified: true})
	if err != nil || again.User.ID != u.ID {
		t.Fatalf("second sign-in: %v, user %s; want %s", err, again.User.ID, u.ID)
	}
	// A refresh keeps idp: it is the session's.
	r, err := f.svc.Refresh(context.Background(), again.RefreshToken, Requester{})
	if err != nil || r.Claims.IDP != "google" {
		t.Fatalf("refresh: %v, idp %q", err, r.Claims.IDP)
	}
}

// A trusted provider's verified address joins the verified account that
// has it; the owner is told.
func TestFederatedJoinsVerifiedAccountByTrustedEmail(t *testing.T) {
	f := newFixture(t)
	owner := f.signup(t, "ada@example.com").User
	if _, err := f.db.UpdateUser(context.Background(), owner.ID, func(u *store.User) error { u.EmailVerified = true; return nil }); err != nil {
		t.Fatal(err)
	}
	tr := f.signInWith(t, "google", connector.Identity{Subject: "g-ada", Email: "ada@example.com", EmailVerified: true})
	if tr.User.ID != owner.ID || tr.User.PasswordHash == "" {
		t.Fatalf("joined user %s (password kept %v); want %s with its password", tr.User.ID, tr.User.PasswordHash != "", owner.ID)
	}
	if len(f.events(t, "identity.link")) != 1 {
		t.Error("no identity.link event")
	}
	if !slices.Contains(f.mailKinds(t), "identity_linked ada@example.com") {
		t.Errorf("mail %v; want the owner told of the link", f.mailKinds(t))
	}
}

// Pre-registration takeover (DESIGN.md): someone registers the victim's
// address with a password and never verifies it; when the victim signs
// in with a trusted provider that proves the address, the account loses
// that password and every session before the identity is attached.
func TestFederatedClaimsUnverifiedAccount(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	squatter := f.signup(t, "victim@example.com") // unverified: verification not required here
	tr := f.signInWith(t, "google", connector.Identity{Subject: "g-victim", Email: "victim@example.com", EmailVerified: true})
	u := tr.User
	if u.ID != squatter.User.ID || u.PasswordHash != "" || !u.EmailVerified {
		t.Fatalf("claimed account: id %s password %v verified %v; want the same account, no password, verified", u.ID, u.PasswordHash != "", u.EmailVerified)
	}
	if _, err := f.svc.Refresh(ctx, squatter.RefreshToken, Requester{}); !errors.Is(err, ErrInvalidGrant) {
		t.Fatalf("the squatter's session after the claim: %v; want ErrInvalidGrant", err)
	}
	if _, err := f.svc.PasswordLogin(ctx, "victim@example.com", rulesPassword, "", Requester{}); err == nil {
		t.Fatal("the squatter's password still signs in")
	}
	if len(f.events(t, "identity.claim")) != 1 {
		t.Error("no identity.claim event")
	}
	if !slices.Contains(f.mailKinds(t), "account_claimed victim@example.com") {
		t.Errorf("mail %v; want account_claimed to the address", f.mailKinds(t))
	}
	// The new session works.
	if _, err := f.svc.Refresh(ctx, tr.RefreshToken, Requester{}); err != nil {
		t.Fatalf("the provider's session: %v", err)
	}
}

// nOAuth: a provider not trusted for email (a generic or multi-tenant
// one can assert any address) never joins an existing account, nor does
// an address the provider has not verified; the person must sign in to
// the account first. Nothing is written.
func TestFederatedNeverJoinsOnUntrustedWord(t *testing.T) {
	f := newFixture(t)
	owner := f.signup(t, "bob@example.com").User
	for name, c := range map[string]struct {
		provider string
		id       connector.Identity
	}{
		"untrusted provider, verified address": {"corp", connector.Identity{Subject: "c-bob", Email: "bob@example.com", EmailVerified: true}},
		"trusted provider, unverified address": {"google", connector.Identity{Subject: "g-bob", Email: "bob@example.com", EmailVerified: false}},
		"address in another case":              {"corp", connector.Identity{Subject: "c-bob2", Email: "BOB@example.com", EmailVerified: true}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := f.fed(t, c.provider, c.id)
			if !errors.Is(err, ErrIdentityLinkRequired) {
				t.Fatalf("got %v, want ErrIdentityLinkRequired", err)
			}
			if ids := f.identities(t, owner.ID); len(ids) != 0 {
				t.Fatalf("identities %+v; want none", ids)
			}
		})
	}
}

// A new person whose provider did not verify their address, or gave
// none, gets no account: latch accounts need a verified address.
func TestFederatedSignUpNeedsVerifiedEmail(t *testing.T) {
	f := newFixture(t)
	for _, id := range []connector.Identity{
		{Subject: "c-1", Email: "eve@example.com", EmailVerified: false},
		{Subject: "c-2"},
		{Subject: "c-3", Email: "not an address", EmailVerified: true},
	} {
		if _, err := f.fed(t, "corp", id); !errors.Is(err, ErrProviderEmail) {
			t.Errorf("%+v: got %v, want ErrProviderEmail", id, err)
		}
	}
	if users, _ := f.db.ListUsers(context.Background(), store.ListUsersOptions{}); len(users) != 0 {
		t.Fatalf("%d users made; want none", len(users))
	}
}

// With sign-up off, or a provider that allows none, a new person gets
// signup_disabled, and so does a person whose address has an account
// the provider may not join: the same answer whether the address exists
// or not.
func TestFederatedSignupOff(t *testing.T) {
	f := newFixture(t)
	f.signup(t, "has@example.com")
	for name, id := range map[string]connector.Identity{
		"new address":      {Subject: "x-1", Email: "new@example.com", EmailVerified: true},
		"existing address": {Subject: "x-2", Email: "has@example.com", EmailVerified: false},
	} {
		if _, err := f.fed(t, "closed", id); !errors.Is(err, ErrSignupDisabled) {
			t.Errorf("allow_signup false, %s: got %v, want ErrSignupDisabled", name, err)
		}
	}
	f.svc.opts.SignupOff = true
	for name, c := range map[string]struct {
		provider string
		id       connector.Identity
	}{
		"new address":                 {"google", connector.Identity{Subject: "g-9", Email: "new@example.com", EmailVerified: true}},
		"existing address, untrusted": {"corp", connector.Identity{Subject: "c-9", Email: "has@example.com", EmailVerified: true}},
	} {
		if _, err := f.fed(t, c.provider, c.id); !errors.Is(err, ErrSignupDisabled) {
			t.Errorf("LATCH_SIGNUP=off, %s: got %v, want ErrSignupDisabled", name, err)
		}
	}
	// A known identity still signs in with sign-up off.
	f.svc.opts.SignupOff = false
	tr := f.signInWith(t, "google", connector.Identity{Subject: "g-known", Email: "known@example.com", EmailVerified: true})
	f.svc.opts.SignupOff = true
	if again, err := f.fed(t, "google", connector.Identity{Subject: "g-known"}); err != nil || again.User.ID != tr.User.ID {
		t.Fatalf("known identity with sign-up off: %v", err)
	}
}

// Two trusted providers asserting the same verified address join the
// same account; the second identity does not make a second account.
func TestFederatedTwoProvidersOneAddress(t *testing.T) {
	f := newFixture(t)
	a := f.signInWith(t, "google", connector.Identity{Subject: "g-1", Email: "same@example.com", EmailVerified: true})
	b := f.signInWith(t, "apple", connector.Identity{Subject: "a-1", Email: "same@example.com", EmailVerified: true})
	if a.User.ID != b.User.ID || len(f.identities(t, a.User.ID)) != 2 {
		t.Fatalf("users %s and %s, identities %d; want one user with two", a.User.ID, b.User.ID, len(f.identities(t, a.User.ID)))
	}
}

// The first sign-ins of one person, at once, make one account with one
// identity, and all of them succeed.
func TestFederatedConcurrentFirstSignIn(t *testing.T) {
	f := newFixture(t)
	var wg sync.WaitGroup
	users := make([]string, 8)
	errs := make([]error, 8)
	for i := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr, err := f.svc.federatedSignIn(context.Background(), f.provider("google"), connector.Identity{Subject: "g-race", Email: "race@example.com", EmailVerified: true}, Requester{})
			users[i], errs[i] = tr.User.ID, err
		}()
	}
	wg.Wait()
	for i := range users {
		if errs[i] != nil || users[i] != users[0] {
			t.Fatalf("sign-in %d: %v, user %s; want %s", i, errs[i], users[i], users[0])
		}
	}
	if n := len(f.identities(t, users[0])); n != 1 {
		t.Fatalf("%d identities; want 1", n)
	}
}

// A disabled account does not sign in through a provider either.
func TestFederatedDisabledAccount(t *testing.T) {
	f := newFixture(t)
	tr := f.signInWith(t, "google", connector.Identity{Subject: "g-d", Email: "d@example.com", EmailVerified: true})
	if _, err := f.db.UpdateUser(context.Background(), tr.User.ID, func(u *store.User) error { u.Disabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := f.fed(t, "google", connector.Identity{Subject: "g-d"}); !errors.Is(err, ErrAccountDisabled) {
		t.Fatalf("got %v, want ErrAccountDisabled", err)
	}
}

// Linking: an identity linked to one user is refused to another; the
// last way in cannot be removed; with a password it can.
func TestLinkAndUnlink(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	fedOnly := f.signInWith(t, "google", connector.Identity{Subject: "g-only", Email: "only@example.com", EmailVerified: true})
	withPw := f.signup(t, "pw@example.com")
	if _, err := f.svc.linkIdentity(ctx, withPw.User.ID, f.provider("google"), connector.Identity{Subject: "g-only"}); !errors.Is(err, ErrIdentityTaken) {
		t.Fatalf("linking another user's identity: %v, want ErrIdentityTaken", err)
	}
	if _, err := f.svc.linkIdentity(ctx, withPw.User.ID, f.provider("corp"), connector.Identity{Subject: "c-pw", Email: "someone-else@example.com"}); err != nil {
		t.Fatalf("link: %v", err)
	}
	// Linked twice by the same user: nothing to do, no error.
	if _, err := f.svc.linkIdentity(ctx, withPw.User.ID, f.provider("corp"), connector.Identity{Subject: "c-pw"}); err != nil {
		t.Fatalf("link again: %v", err)
	}
	only := f.identities(t, fedOnly.User.ID)
	p := Principal{User: fedOnly.User, Session: fedOnly.Session}
	if err := f.svc.UnlinkIdentity(ctx, p, only[0].ID); !errors.Is(err, ErrLastSignInMethod) {
		t.Fatalf("unlink the last way in: %v, want ErrLastSignInMethod", err)
	}
	if err := f.svc.UnlinkIdentity(ctx, p, "00000000-0000-0000-0000-000000000000"); !errors.Is(err, ErrIdentityNotFound) {
		t.Fatalf("unlink an unknown id: %v", err)
	}
	pw := f.identities(t, withPw.User.ID)
	if err := f.svc.UnlinkIdentity(ctx, Principal{User: withPw.User, Session: withPw.Session}, pw[0].ID); err != nil {
		t.Fatalf("unlink beside a password: %v", err)
	}
	if n := len(f.identities(t, withPw.User.ID)); n != 0 {
		t.Fatalf("%d identities left", n)
	}
	if !slices.Contains(f.mailKinds(t), "identity_unlinked pw@example.com") {
		t.Errorf("mail %v; want the owner told of the removal", f.mailKinds(t))
	}
}
