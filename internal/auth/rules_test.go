package auth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/latchauth/latch/internal/apperr"
	"github.com/latchauth/latch/internal/audit"
	"github.com/latchauth/latch/internal/password"
	"github.com/latchauth/latch/internal/ratelimit"
	"github.com/latchauth/latch/internal/store"
	"github.com/latchauth/latch/internal/store/sqlite/sqlitetest"
	"github.com/latchauth/latch/internal/token"
)

// The domain's rules, tested where they live: a Service on a real SQLite
// store, a real (cheap) argon2id hasher, real tokens and a stepped clock.

type testClock struct{ t time.Time }

func (c *testClock) now() time.Time { return c.t }

type fixture struct {
	svc   *Service
	db    store.Store
	clock *testClock
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	db := sqlitetest.Open(t)
	clk := &testClock{t: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
	sealer, err := token.NewSealer([]byte("rules-test-secret-0123456789abcdef0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := token.NewManager(db, sealer, token.Options{Issuer: "http://localhost:8080", Audience: []string{"http://localhost:8080"}, Algorithm: "ES256", AccessTTL: 15 * time.Minute, ClientID: "latch", Now: clk.now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tokens.Init(ctx); err != nil {
		t.Fatal(err)
	}
	hasher, err := password.NewHasher(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, password.Limits{Concurrency: 2, Queue: 8, MaxWait: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	d := Deps{Hasher: hasher, Tokens: tokens, MAC: sealer, Now: clk.now, Audit: audit.New(db, nil, clk.now, nil), Providers: testProviders}
	d.Storage(db)
	th := ratelimit.New(db, ratelimit.DefaultPolicy(), clk.now)
	d.Throttler, d.Quota = th, th
	svc := NewService(d, Options{SessionMaxAge: 720 * time.Hour, SessionIdleTimeout: 168 * time.Hour, RefreshReuseGrace: 10 * time.Second, Policy: password.DefaultPolicy()})
	return &fixture{svc: svc, db: db, clock: clk}
}

const rulesPassword = "correct horse battery staple"

func (f *fixture) signup(t *testing.T, email string) TokenResponse {
	t.Helper()
	r, err := f.svc.Signup(context.Background(), SignupInput{Email: email, Password: rulesPassword})
	if err != nil {
		t.Fatalf("signup %s: %v", email, err)
	}
	return r.Tokens
}

// A session whose identification a credential change overtook is refused
// by the funnel, and the sign-in fails as the credential would.
func TestFunnelRefusesAnOvertakenIdentification(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tr := f.signup(t, "epoch@example.com")
	before := tr.User
	if _, err := f.db.UpdateUser(ctx, before.ID, func(u *store.User) error { u.CredentialEpoch++; return nil }); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.openSession(ctx, signIn{user: before, amr: []string{"pwd"}, authTime: f.clock.now(), stale: ErrInvalidCredentials})
	if !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("openSession with a stale epoch: got %v, want ErrInvalidCredentials", err)
	}
	if list, _ := f.db.ListSessions(ctx, before.ID); len(list) != 1 {
		t.Fatalf("sessions after a refused sign-in: %d, want only the sign-up's", len(list))
	}
}

// A device token is honoured only for the user it was issued to, unaltered
// and within its lifetime; a sign-in with one keeps its device id.
func TestDeviceTokens(t *testing.T) {
	f := newFixture(t)
	alice, bob := uuid.NewString(), uuid.NewString()
	tok := f.svc.newDeviceToken(alice, "")
	id := f.svc.deviceOf(tok, alice)
	if len(id) != 32 {
		t.Fatalf("device id %q: want 32 hex digits", id)
	}
	if again := f.svc.deviceOf(f.svc.newDeviceToken(alice, id), alice); again != id {
		t.Fatalf("a renewed device token has device %q, want %q", again, id)
	}
	// One character of the user id changed, in the middle of the body.
	i := len(devicePrefix) + 4
	swap := byte('A')
	if tok[i] == 'A' {
		swap = 'B'
	}
	tampered := tok[:i] + string(swap) + tok[i+1:]
	for name, c := range map[string]struct{ tok, user string }{
		"another user": {tok, bob},
		"tampered":     {tampered, alice},
		"not one":      {"ldt_nothing", alice},
		"empty":        {"", alice},
		"refresh":      {newRefreshToken(), alice},
	} {
		if got := f.svc.deviceOf(c.tok, c.user); got != "" {
			t.Errorf("%s: deviceOf = %q, want none", name, got)
		}
	}
	f.clock.t = f.clock.t.Add(DeviceTokenTTL + time.Second)
	if got := f.svc.deviceOf(tok, alice); got != "" {
		t.Errorf("expired: deviceOf = %q, want none", got)
	}
}

// Which one-time tokens still work: a verification link dies once the
// address is verified; every link dies with a later password change or
// another address, except the undo link of an email change, which works
// at either address whatever happened since.
func TestUsable(t *testing.T) {
	s := &Service{now: func() time.Time { return time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC) }}
	now := s.now()
	user := store.User{Email: "a@example.com", PasswordChangedAt: now.Add(-time.Hour)}
	tok := func(p store.TokenPurpose) store.OneTimeToken {
		return store.OneTimeToken{Purpose: p, Email: "a@example.com", NewEmail: "b@example.com", CreatedAt: now.Add(-time.Minute), ExpiresAt: now.Add(time.Minute)}
	}
	verified := user
	verified.EmailVerified = true
	newPassword := user
	newPassword.PasswordChangedAt = now
	moved := newPassword
	moved.Email = "b@example.com"
	elsewhere := user
	elsewhere.Email = "c@example.com"
	tests := []struct {
		name    string
		purpose store.TokenPurpose
		user    store.User
		want    bool
	}{
		{"verify", store.PurposeVerify, user, true},
		{"verify, address verified", store.PurposeVerify, verified, false},
		{"recover after a password change", store.PurposeRecover, newPassword, false},
		{"recover at another address", store.PurposeRecover, elsewhere, false},
		{"undo, not yet confirmed", store.PurposeEmailRevert, user, true},
		{"undo, confirmed and the password changed", store.PurposeEmailRevert, moved, true},
		{"undo, the account moved on", store.PurposeEmailRevert, elsewhere, false},
		{"wrong purpose", store.PurposeOTP, user, false},
	}
	for _, tt := range tests {
		p := store.PurposeVerify
		if tt.name != "wrong purpose" {
			p = tt.purpose
		}
		if got := s.usable(tok(tt.purpose), tt.user, p); got != tt.want {
			t.Errorf("%s: usable = %v, want %v", tt.name, got, tt.want)
		}
	}
	spent := tok(store.PurposeVerify)
	spent.UsedAt = now
	if s.usable(spent, user, store.PurposeVerify) {
		t.Error("a used token is usable")
	}
}

// A sign-in code counts the wrong codes tried at its address since it was
// sent; five of them kill it.
func TestTriedSince(t *testing.T) {
	tok := store.OneTimeToken{Attempts: 7} // the address had 7 misses when it was sent
	for misses, want := range map[int]int{7: 0, 9: 2, 12: 5, 3: 0} {
		if got := triedSince(tok, misses).Attempts; got != want {
			t.Errorf("triedSince(7 at minting, %d now) = %d, want %d", misses, got, want)
		}
	}
}

// A change of password or email needs the current password when the user
// has one (400 without it, invalid_grant when wrong), else a sign-in
// within five minutes (401 insufficient_user_authentication).
func TestFreshProof(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tr := f.signup(t, "proof@example.com")
	p, err := f.svc.Authenticate(ctx, tr.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	code := func(err error) string {
		var ae *apperr.Error
		if errors.As(err, &ae) {
			return ae.Code
		}
		return ""
	}
	if err := f.svc.freshProof(ctx, p, "", false); code(err) != apperr.CodeInvalidRequest {
		t.Errorf("no current password: got %v", err)
	}
	if err := f.svc.freshProof(ctx, p, "not the password", false); !errors.Is(err, ErrWrongPassword) {
		t.Errorf("wrong current password: got %v", err)
	}
	if err := f.svc.freshProof(ctx, p, rulesPassword, false); err != nil {
		t.Errorf("right current password: %v", err)
	}
	p.User.PasswordHash = ""
	if err := f.svc.freshProof(ctx, p, "", false); err != nil {
		t.Errorf("no password, signed in just now: %v", err)
	}
	f.clock.t = f.clock.t.Add(recentAuth + time.Second)
	if err := f.svc.freshProof(ctx, p, "", false); !errors.Is(err, ErrInsufficientAuth) {
		t.Errorf("no password, signed in 5 min 1 s ago: got %v, want ErrInsufficientAuth", err)
	}
	p.Session.AuthTime = time.Time{}
	f.clock.t = p.Session.CreatedAt
	if err := f.svc.freshProof(ctx, p, "", false); !errors.Is(err, ErrInsufficientAuth) {
		t.Errorf("no password, a session from an email link: got %v, want ErrInsufficientAuth", err)
	}
}

// What a presented refresh token comes to (RFC 9700 §4.14.2 with a grace
// window for concurrent refreshes).
func TestJudgeRefresh(t *testing.T) {
	s := &Service{opts: Options{SessionMaxAge: time.Hour, SessionIdleTimeout: time.Hour, RefreshReuseGrace: 10 * time.Second}}
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	live, parent, older, next := []byte("live"), []byte("parent"), []byte("older"), []byte("next")
	sess := store.Session{CreatedAt: now.Add(-time.Minute), LastActiveAt: now, ExpiresAt: now.Add(time.Hour), RefreshHash: live, ParentHash: parent, RotatedAt: now.Add(-5 * time.Second)}
	graceSess := sess
	graceSess.RefreshHash = next
	revoked := sess
	revoked.RevokedAt = now.Add(-time.Second)
	tests := []struct {
		name    string
		sess    store.Session
		user    store.User
		h, next []byte
		at      time.Time
		want    refreshOutcome
	}{
		{"the live token", sess, store.User{}, live, next, now, refreshRotated},
		{"the parent within the grace window", graceSess, store.User{}, parent, next, now, refreshGrace},
		{"the parent after the grace window", graceSess, store.User{}, parent, next, now.Add(6 * time.Second), refreshReused},
		{"the parent, live token not its successor", sess, store.User{}, parent, next, now, refreshReused},
		{"an older token", sess, store.User{}, older, next, now, refreshReused},
		{"a revoked session", revoked, store.User{}, live, next, now, refreshRefused},
		{"a disabled user", sess, store.User{Disabled: true}, live, next, now, refreshRefused},
		{"an idle session", sess, store.User{}, live, next, now.Add(time.Hour), refreshRefused},
	}
	for _, tt := range tests {
		if got := s.judgeRefresh(tt.sess, tt.user, tt.h, tt.next, tt.at); got != tt.want {
			t.Errorf("%s: got outcome %d, want %d", tt.name, got, tt.want)
		}
	}
}
