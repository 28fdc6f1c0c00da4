package token

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/clocktest"
	"github.com/latchauth/latch/internal/jwstest"
	"github.com/latchauth/latch/internal/store"
)

// fakeKeys is an in-memory KeyStore. Like the real backends it hands out
// copies, keeps times in UTC at microsecond precision and runs
// UpdateSigningKeys under one lock.
type fakeKeys struct {
	mu      sync.Mutex
	keys    []store.SigningKey
	lists   int // ListSigningKeys calls
	updates int // UpdateSigningKeys calls
}

var _ KeyStore = (*fakeKeys)(nil)

func (f *fakeKeys) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	return cloneKeys(f.keys), nil
}

func (f *fakeKeys) UpdateSigningKeys(ctx context.Context, fn func([]store.SigningKey) ([]store.SigningKey, error)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updates++
	out, err := fn(cloneKeys(f.keys))
	if err != nil {
		return err
	}
	for _, k := range cloneKeys(out) {
		for _, t := range []*time.Time{&k.CreatedAt, &k.ActivatedAt, &k.DeactivateAt, &k.RetireAt} {
			*t = t.UTC().Truncate(time.Microsecond)
		}
		if i := slices.IndexFunc(f.keys, func(o store.SigningKey) bool { return o.ID == k.ID }); i >= 0 {
			f.keys[i] = k
		} else {
			f.keys = append(f.keys, k)
		}
	}
	return nil
}

func (f *fakeKeys) listCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lists
}

func (f *fakeKeys) updateCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.updates
}

// snapshot returns a new fakeKeys holding a copy of f's keys.
func (f *fakeKeys) snapshot() *fakeKeys {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &fakeKeys{keys: cloneKeys(f.keys)}
}

func (f *fakeKeys) inState(s store.KeyState) []store.SigningKey {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.SigningKey
	for _, k := range f.keys {
		if k.State == s {
			out = append(out, k)
		}
	}
	return out
}

func cloneKeys(keys []store.SigningKey) []store.SigningKey {
	out := make([]store.SigningKey, len(keys))
	for i, k := range keys {
		k.SealedKey = slices.Clone(k.SealedKey)
		k.PublicKey = slices.Clone(k.PublicKey)
		out[i] = k
	}
	return out
}

// newClock is the tests' manual clock: they step it instead of sleeping.
func newClock() *clocktest.Clock { return clocktest.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) }

// signInClaims are what a password sign-in asks Issue to sign.
var signInClaims = Claims{
	Subject:       "0190c3d8-7a4e-7c3b-9a1e-3f5d2b8c9e01",
	SessionID:     "0190c3d8-7a4e-7c3b-9a1e-3f5d2b8c9e02",
	AMR:           []string{"pwd"},
	AAL:           "aal1",
	Email:         "ada@example.com",
	EmailVerified: true,
}

const (
	testIssuer   = "https://auth.example.com"
	testAudience = "https://api.example.com"
)

// publishDelay is the default Options.PublishDelay: how long a next key
// must have been stored before Rotate lets it sign.
const publishDelay = JWKSMaxAge + DefaultReloadInterval + publishMargin

func testSealer(t testing.TB) *Sealer {
	t.Helper()
	s, err := NewSealer([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testOptions(alg string, c *clocktest.Clock) Options {
	return Options{
		Issuer:    testIssuer,
		Audience:  []string{testAudience, "https://other.example.com"},
		Algorithm: alg,
		Now:       c.Now,
	}
}

// newManager returns an initialised Manager on ks.
func newManager(t testing.TB, ks KeyStore, opts Options) *Manager {
	t.Helper()
	return initManager(t, ks, opts, nil)
}

// newLoggedManager is newManager with the manager's log written, as text,
// to logs.
func newLoggedManager(t testing.TB, ks KeyStore, opts Options, logs *bytes.Buffer) *Manager {
	t.Helper()
	return initManager(t, ks, opts, slog.New(slog.NewTextHandler(logs, nil)))
}

// initManager returns a manager of ks, with log, that Init has loaded.
func initManager(t testing.TB, ks KeyStore, opts Options, log *slog.Logger) *Manager {
	t.Helper()
	m, err := NewManager(ks, testSealer(t), opts, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	return m
}

var (
	storesMu sync.Mutex
	stores   = map[string]*fakeKeys{}
)

// initialisedStore returns a store that Init has filled with keys of alg.
// The keys are generated once per test binary (a 3072-bit RSA key takes
// long under -race) and each caller gets its own copy.
func initialisedStore(t testing.TB, alg string) *fakeKeys {
	t.Helper()
	storesMu.Lock()
	defer storesMu.Unlock()
	if s, ok := stores[alg]; ok {
		return s.snapshot()
	}
	s := &fakeKeys{}
	newManager(t, s, testOptions(alg, newClock()))
	stores[alg] = s
	return s.snapshot()
}

// mustIssue issues an access token for c with m and returns it and the
// claims it carries.
func mustIssue(t testing.TB, m *Manager, c Claims) (string, Claims) {
	t.Helper()
	raw, issued, err := m.Issue(c)
	if err != nil {
		t.Fatal(err)
	}
	return raw, issued
}

// fixture is a Manager with keys of one algorithm and a manual clock.
type fixture struct {
	alg   string
	store *fakeKeys
	clock *clocktest.Clock
	m     *Manager
}

func newFixture(t testing.TB, alg string) *fixture {
	t.Helper()
	ks := initialisedStore(t, alg)
	c := newClock()
	return &fixture{alg: alg, store: ks, clock: c, m: newManager(t, ks, testOptions(alg, c))}
}

func (fx *fixture) current() *signingKey { return fx.m.set.Load().current }

// claims returns the claims Issue would fill in, as a JSON object that
// tests can edit before signing it themselves.
func (fx *fixture) claims(t testing.TB) map[string]any {
	t.Helper()
	now := fx.clock.Now()
	return map[string]any{
		"iss":            testIssuer,
		"sub":            "0190c3d8-7a4e-7c3b-9a1e-3f5d2b8c9e01",
		"aud":            testAudience,
		"exp":            now.Add(15 * time.Minute).Unix(),
		"iat":            now.Unix(),
		"jti":            "jti-1",
		"client_id":      "latch",
		"sid":            "0190c3d8-7a4e-7c3b-9a1e-3f5d2b8c9e02",
		"amr":            []string{"pwd"},
		"aal":            "aal1",
		"email":          "ada@example.com",
		"email_verified": true,
	}
}

// header returns the header Issue writes for the fixture's current key.
func (fx *fixture) header() map[string]any {
	return map[string]any{"alg": fx.alg, "kid": fx.current().id, "typ": "at+jwt"}
}

// sign signs claims under header with the fixture's real private key, so
// that only the edited part can make Verify refuse the token.
func (fx *fixture) sign(t testing.TB, header map[string]any, claims any) string {
	t.Helper()
	return forge(t, header, claims, signer(t, fx.current().priv))
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	if b, ok := v.([]byte); ok {
		return b
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// forge builds a compact JWS by hand, so that tests can produce what no
// well-behaved library would.
func forge(t testing.TB, header map[string]any, claims any, sign func([]byte) []byte) string {
	t.Helper()
	return jwstest.Compact(mustJSON(t, header), mustJSON(t, claims), sign)
}

// signer signs a JWS signing input with priv, by the algorithm its type
// implies, using the standard library only.
func signer(t testing.TB, priv crypto.Signer) func([]byte) []byte {
	t.Helper()
	return func(in []byte) []byte {
		sig, err := jwstest.Sign(priv, in)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
}

func foreignKey(t testing.TB, alg string) crypto.Signer {
	t.Helper()
	k, err := generatePrivate(alg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// waitCurrent waits up to ten seconds for m, whose Run works in the
// background, to sign with the key kid, and fails with failure and kid if
// it does not.
func waitCurrent(t *testing.T, m *Manager, kid, failure string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for m.set.Load().current.id != kid {
		if time.Now().After(deadline) {
			t.Fatalf("%s %s", failure, kid)
		}
		time.Sleep(time.Millisecond)
	}
}

// wantInvalid fails unless err wraps ErrInvalidToken.
func wantInvalid(t testing.TB, err error) {
	t.Helper()
	if !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("got error %v, want one wrapping ErrInvalidToken", err)
	}
}

var algs = []string{ES256, EdDSA, RS256}
