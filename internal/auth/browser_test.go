package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/store"
)

// The browser session and the authorization code, tested where their
// rules live.

func (f *fixture) browserSignIn(t *testing.T, email string) TokenResponse {
	t.Helper()
	r, err := f.svc.Signup(context.Background(), SignupInput{Email: email, Password: rulesPassword, Requester: Requester{Browser: true}})
	if err != nil {
		t.Fatalf("signup %s: %v", email, err)
	}
	if r.Tokens.AccessToken != "" || !wellFormedBrowserSecret(r.Tokens.RefreshToken) || r.Tokens.Session.Kind != store.SessionBrowser {
		t.Fatalf("a sign-in through the pages gave %+v, want a browser session's secret and no access token", r.Tokens)
	}
	return r.Tokens
}

// codeIssuer signs a new person in through the pages and returns their
// browser session's secret and a function that issues codes for cb.
func (f *fixture) codeIssuer(t *testing.T, email string) (secret string, issue func() string) {
	t.Helper()
	tr := f.browserSignIn(t, email)
	p, err := f.svc.BrowserSession(context.Background(), tr.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	return tr.RefreshToken, func() string {
		t.Helper()
		code, err := f.svc.IssueCode(context.Background(), p, cb, s256(verifier))
		if err != nil {
			t.Fatal(err)
		}
		return code
	}
}

// cb is the redirect URI of the codes the tests issue.
const cb = "https://app.example.com/cb"

func s256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk" // RFC 7636 Appendix B

// RFC 7636 Appendix B: the S256 challenge of its example verifier.
func TestChallengeOfRFC7636Example(t *testing.T) {
	if got := s256(verifier); got != "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM" || !challengeMet(verifier, got) || !WellFormedChallenge(got) {
		t.Fatalf("S256(%s) = %s", verifier, got)
	}
	for _, bad := range []string{"", "short", verifier + "=", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c+"} {
		if WellFormedChallenge(bad) {
			t.Errorf("WellFormedChallenge(%q) = true", bad)
		}
	}
}

// A browser session is found by its secret while it lives, and not
// after it ends, after its idle timeout, or for a disabled user.
func TestBrowserSessionLife(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tr := f.browserSignIn(t, "life@example.com")
	p, err := f.svc.BrowserSession(ctx, tr.RefreshToken)
	if err != nil || p.User.Email != "life@example.com" {
		t.Fatalf("BrowserSession: %v", err)
	}
	// A browser secret is not a refresh token, and the other way round.
	if _, err := f.svc.Refresh(ctx, tr.RefreshToken, Requester{}); !errors.Is(err, ErrInvalidGrant) {
		t.Errorf("Refresh with a browser secret: %v", err)
	}
	app := f.signup(t, "app@example.com")
	if _, err := f.svc.BrowserSession(ctx, app.RefreshToken); !errors.Is(err, ErrNoBrowserSession) {
		t.Errorf("BrowserSession with a refresh token: %v", err)
	}

	f.clock.t = f.clock.t.Add(8 * 24 * time.Hour) // past the 7-day idle timeout
	if _, err := f.svc.BrowserSession(ctx, tr.RefreshToken); !errors.Is(err, ErrNoBrowserSession) {
		t.Errorf("an idle browser session still works: %v", err)
	}

	tr = f.browserSignIn(t, "ended@example.com")
	if err := f.svc.EndBrowserSession(ctx, tr.RefreshToken); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.BrowserSession(ctx, tr.RefreshToken); !errors.Is(err, ErrNoBrowserSession) {
		t.Errorf("an ended browser session still works: %v", err)
	}
}

// RFC 6749 §4.1.2 and §4.1.3, RFC 7636 §4.6: a code works once, within 60
// s, with its redirect URI and its verifier, while its browser session
// lives; the app session inherits the browser session's auth_time.
func TestAuthorizationCodeRules(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	secret, issue := f.codeIssuer(t, "code@example.com")
	code := issue()
	for name, c := range map[string]struct{ code, redirect, verifier string }{
		"wrong verifier": {code, cb, verifier[:42] + "x"},
		"wrong redirect": {code, cb + "/", verifier},
		"unknown code":   {"lac_" + verifier, cb, verifier},
		"forged code":    {tamper(code), cb, verifier},
	} {
		if _, err := f.svc.ExchangeCode(ctx, c.code, c.redirect, c.verifier, Requester{}); !errors.Is(err, ErrInvalidCode) {
			t.Errorf("%s: %v, want ErrInvalidCode", name, err)
		}
	}
	f.clock.t = f.clock.t.Add(30 * time.Second)
	got, err := f.svc.ExchangeCode(ctx, code, cb, verifier, Requester{})
	if err != nil {
		t.Fatalf("ExchangeCode: %v", err)
	}
	p, err := f.svc.BrowserSession(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := f.db.GetSession(ctx, got.Claims.SessionID)
	if err != nil || sess.ParentID != p.Session.ID || sess.Kind != store.SessionApp || !sess.AuthTime.Equal(p.Session.AuthTime) {
		t.Fatalf("the app session: %+v, %v", sess, err)
	}
	// Replayed: refused, and the session it made ends.
	if _, err := f.svc.ExchangeCode(ctx, code, cb, verifier, Requester{}); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("replay: %v", err)
	}
	if _, err := f.svc.Refresh(ctx, got.RefreshToken, Requester{}); !errors.Is(err, ErrInvalidGrant) {
		t.Errorf("the replayed code's session still refreshes: %v", err)
	}

	late := issue()
	f.clock.t = f.clock.t.Add(CodeTTL)
	if _, err := f.svc.ExchangeCode(ctx, late, cb, verifier, Requester{}); !errors.Is(err, ErrInvalidCode) {
		t.Errorf("an expired code: %v", err)
	}
	orphan := issue()
	if err := f.svc.EndBrowserSession(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ExchangeCode(ctx, orphan, cb, verifier, Requester{}); !errors.Is(err, ErrInvalidCode) {
		t.Errorf("a code of an ended browser session: %v", err)
	}
}

// Of concurrent redemptions of one code exactly one gets tokens, and the
// others, presenting the code a second time, end its session (RFC 6749
// §4.1.2).
func TestConcurrentCodeRedemption(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, issue := f.codeIssuer(t, "race@example.com")
	code := issue()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins []TokenResponse
	)
	for range 6 {
		wg.Go(func() {
			got, err := f.svc.ExchangeCode(ctx, code, cb, verifier, Requester{})
			if err == nil {
				mu.Lock()
				wins = append(wins, got)
				mu.Unlock()
			} else if !errors.Is(err, ErrInvalidCode) {
				t.Errorf("ExchangeCode: %v", err)
			}
		})
	}
	wg.Wait()
	live := 0
	for _, w := range wins {
		if _, err := f.svc.Refresh(ctx, w.RefreshToken, Requester{}); err == nil {
			live++
		}
	}
	if len(wins) != 1 || live != 0 {
		t.Fatalf("%d redemptions succeeded, %d sessions live; want 1 and 0", len(wins), live)
	}
}

// max_age (OpenID Connect Core §3.1.2.1) is measured from auth_time; a
// session from an email link never proved a credential.
func TestSignedInWithin(t *testing.T) {
	f := newFixture(t)
	p := Principal{Session: store.Session{AuthTime: f.clock.t}}
	f.clock.t = f.clock.t.Add(5 * time.Minute)
	if !f.svc.SignedInWithin(p, 5*time.Minute) || f.svc.SignedInWithin(p, 4*time.Minute) {
		t.Error("max_age against a sign-in five minutes ago")
	}
	if f.svc.SignedInWithin(Principal{}, time.Hour) {
		t.Error("a session without auth_time counts as signed in")
	}
}

// tamper changes one character of a code's signed part.
func tamper(code string) string {
	i := len(codePrefix) + 5
	c := byte('A')
	if code[i] == 'A' {
		c = 'B'
	}
	return code[:i] + string(c) + code[i+1:]
}
