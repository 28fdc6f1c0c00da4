package token

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchauth/latch/internal/store"
)

// jwksKeys decodes a JWKS document into its keys' members.
func jwksKeys(t *testing.T, doc []byte) []map[string]any {
	t.Helper()
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&set); err != nil {
		t.Fatalf("JWKS %s: %v", doc, err)
	}
	return set.Keys
}

func jwksKids(t *testing.T, doc []byte) []string {
	t.Helper()
	var kids []string
	for _, k := range jwksKeys(t, doc) {
		kids = append(kids, k["kid"].(string))
	}
	return kids
}

func onlyKid(t *testing.T, keys []store.SigningKey) string {
	t.Helper()
	if len(keys) != 1 {
		t.Fatalf("got %d keys, want 1: %v", len(keys), keys)
	}
	return keys[0].ID
}

// A fresh install ends with one current and one next key, both published
// (DESIGN.md "Tokens"); the JWKS holds public parts only (RFC 7517 §4,
// RFC 7518 §6; ASVS 5.0 V9.1.3).
func TestInitFreshStore(t *testing.T) {
	wantMembers := map[string][]string{
		ES256: {"alg", "crv", "kid", "kty", "use", "x", "y"},
		EdDSA: {"alg", "crv", "kid", "kty", "use", "x"},
		RS256: {"alg", "e", "kid", "kty", "n", "use"},
	}
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			ks := initialisedStore(t, alg)
			if got := len(ks.keys); got != 2 {
				t.Fatalf("keys after Init: got %d, want 2", got)
			}
			cur, next := onlyKid(t, ks.inState(store.KeyCurrent)), onlyKid(t, ks.inState(store.KeyNext))
			for _, k := range ks.keys {
				if k.Algorithm != alg {
					t.Errorf("key %s: got alg %s, want %s", k.ID, k.Algorithm, alg)
				}
				if bytes.Contains(k.SealedKey, []byte("PRIVATE")) || len(k.SealedKey) < 1+28+32 {
					t.Errorf("key %s: sealed key looks unsealed", k.ID)
				}
			}
			m := newManager(t, ks, testOptions(alg, newClock()))
			doc := m.JWKS()
			if diff := cmp.Diff([]string{cur, next}, jwksKids(t, doc)); diff != "" {
				t.Errorf("JWKS kids, current first (-want +got):\n%s", diff)
			}
			for _, k := range jwksKeys(t, doc) {
				var members []string
				for name := range k {
					members = append(members, name)
				}
				slices.Sort(members)
				if diff := cmp.Diff(wantMembers[alg], members); diff != "" {
					t.Errorf("JWK members (-want +got):\n%s", diff)
				}
				if k["use"] != "sig" || k["alg"] != alg {
					t.Errorf("JWK use/alg: got %v/%v, want sig/%s", k["use"], k["alg"], alg)
				}
			}
			if diff := cmp.Diff([]string{alg}, m.Algorithms()); diff != "" {
				t.Errorf("Algorithms (-want +got):\n%s", diff)
			}
			if !m.Ready() {
				t.Error("Ready: got false after Init, want true")
			}
		})
	}
}

// Init run again, by this or another instance, changes nothing.
func TestInitIdempotent(t *testing.T) {
	ks := &fakeKeys{}
	c := newClock()
	m := newManager(t, ks, testOptions(ES256, c))
	before := cloneKeys(ks.keys)
	if err := m.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	newManager(t, ks, testOptions(ES256, c))
	if diff := cmp.Diff(before, ks.keys); diff != "" {
		t.Errorf("keys changed by a second Init (-before +after):\n%s", diff)
	}
}

// Instances starting at once create one set of keys (DESIGN.md "Scale";
// STYLE.md 5: read-modify-write inside one transaction).
func TestInitConcurrent(t *testing.T) {
	ks := &fakeKeys{}
	c := newClock()
	const n = 6
	managers := make([]*Manager, n)
	var wg sync.WaitGroup
	for i := range n {
		m, err := NewManager(ks, testSealer(t), testOptions(ES256, c), nil)
		if err != nil {
			t.Fatal(err)
		}
		managers[i] = m
		wg.Go(func() {
			if err := m.Init(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := len(ks.keys); got != 2 {
		t.Fatalf("keys after %d concurrent Inits: got %d, want 2", n, got)
	}
	cur := onlyKid(t, ks.inState(store.KeyCurrent))
	onlyKid(t, ks.inState(store.KeyNext))
	for i, m := range managers {
		if got := m.set.Load().current.id; got != cur {
			t.Errorf("manager %d signs with %s, want %s", i, got, cur)
		}
	}
}

// Rotation: the next key was published before it signs, the old key stays
// published until its last token has expired, then leaves the JWKS
// (DESIGN.md "Tokens"; RFC 7517 §5; ASVS 5.0 V9.1.3).
func TestRotate(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, ES256)
	oldKid := fx.current().id
	nextKid := onlyKid(t, fx.store.inState(store.KeyNext))
	if !slices.Contains(jwksKids(t, fx.m.JWKS()), nextKid) {
		t.Fatalf("next key %s is not in the JWKS before rotation", nextKid)
	}
	oldTok, oldClaims := mustIssue(t, fx.m, Claims{Subject: "u", SessionID: "s"})

	fx.clock.Advance(publishDelay)
	gotKid, err := fx.m.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if gotKid != nextKid {
		t.Errorf("Rotate: got current %s, want the former next key %s", gotKid, nextKid)
	}
	newNext := onlyKid(t, fx.store.inState(store.KeyNext))
	if diff := cmp.Diff([]string{nextKid, newNext, oldKid}, jwksKids(t, fx.m.JWKS())); diff != "" {
		t.Errorf("JWKS after rotation: current, next, previous (-want +got):\n%s", diff)
	}
	prev := fx.store.inState(store.KeyPrevious)
	if onlyKid(t, prev) != oldKid {
		t.Fatalf("previous key: got %s, want %s", prev[0].ID, oldKid)
	}
	rotatedAt := fx.clock.Now()
	wantRetire := rotatedAt.Add(DefaultAccessTTL + DefaultLeeway + DefaultReloadInterval)
	if !prev[0].RetireAt.Equal(wantRetire) || !prev[0].DeactivateAt.Equal(rotatedAt) {
		t.Errorf("previous key: got deactivate %v retire %v, want %v and %v", prev[0].DeactivateAt, prev[0].RetireAt, rotatedAt, wantRetire)
	}

	if _, err := fx.m.Verify(ctx, oldTok); err != nil {
		t.Errorf("token of the previous key after rotation: got %v, want valid", err)
	}
	newTok, _ := mustIssue(t, fx.m, Claims{Subject: "u", SessionID: "s"})
	if got := decodeSegment(t, newTok, 0)["kid"]; got != nextKid {
		t.Errorf("kid of a token issued after rotation: got %v, want %s", got, nextKid)
	}

	// The old token dies at exp (plus leeway), before its key retires.
	fx.clock.Advance(oldClaims.ExpiresAt.Add(DefaultLeeway).Sub(fx.clock.Now()))
	if _, err := fx.m.Verify(ctx, oldTok); err == nil {
		t.Error("old token after exp+leeway: got valid, want expired")
	}
	if err := fx.m.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(jwksKids(t, fx.m.JWKS()), oldKid) {
		t.Error("previous key left the JWKS before its RetireAt")
	}
	fx.clock.Advance(wantRetire.Sub(fx.clock.Now()))
	if err := fx.m.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(jwksKids(t, fx.m.JWKS()), oldKid) {
		t.Error("previous key still in the JWKS at its RetireAt")
	}

	// The next rotation marks it retired in the store.
	if _, err := fx.m.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	infos, err := fx.m.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]store.KeyState{}
	for _, k := range infos {
		states[k.ID] = k.State
	}
	for kid, want := range map[string]store.KeyState{
		oldKid:  store.KeyRetired,
		nextKid: store.KeyPrevious,
		newNext: store.KeyCurrent,
	} {
		if got := states[kid]; got != want {
			t.Errorf("key %s after two rotations: got state %q, want %q", kid, got, want)
		}
	}
	if got := len(infos); got != 4 {
		t.Errorf("keys after two rotations: got %d, want 4", got)
	}
}

// Instances sharing a store: a rotation on one reaches the other through
// the unknown-kid reload and through Reload (DESIGN.md "Scale": "a key
// rotated on one signs on all").
func TestRotateTwoManagers(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, ES256)
	a := fx.m
	b := newManager(t, fx.store, testOptions(ES256, fx.clock))

	// One rotation: b already knows the new current key, which was next.
	fx.clock.Advance(publishDelay)
	if _, err := a.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	lists := fx.store.listCount()
	tok, _ := mustIssue(t, a, Claims{Subject: "u", SessionID: "s"})
	if _, err := b.Verify(ctx, tok); err != nil {
		t.Fatalf("b verifies a's token after one rotation: %v", err)
	}
	if got := fx.store.listCount(); got != lists {
		t.Errorf("store reads for a kid published before rotation: got %d, want 0", got-lists)
	}

	// Two rotations: a signs with a key b has never seen.
	fx.clock.Advance(publishDelay)
	if _, err := a.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	tok, _ = mustIssue(t, a, Claims{Subject: "u", SessionID: "s"})
	lists = fx.store.listCount()
	if _, err := b.Verify(ctx, tok); err != nil {
		t.Fatalf("b verifies a token of a key it has not loaded: got %v, want valid after one reload", err)
	}
	if got := fx.store.listCount() - lists; got != 1 {
		t.Errorf("store reads for one unknown kid: got %d, want 1", got)
	}
	if diff := cmp.Diff(a.JWKS(), b.JWKS()); diff != "" {
		t.Errorf("JWKS of b after the kid reload differs from a's (-a +b):\n%s", diff)
	}
	mustIssue(t, b, Claims{Subject: "u", SessionID: "s"})
	if got, want := b.set.Load().current.id, a.set.Load().current.id; got != want {
		t.Errorf("b signs with %s, want a's current %s", got, want)
	}

	// A third rotation reaches b through Reload, as Run does.
	fx.clock.Advance(publishDelay)
	if _, err := a.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := b.set.Load().current.id, a.set.Load().current.id; got != want {
		t.Errorf("after Reload b signs with %s, want %s", got, want)
	}
}

// An unknown kid reads the store at most once per KidReloadInterval, and
// only when it could be one of ours (RFC 8725 §3.10: the kid is
// attacker-controlled input).
func TestUnknownKidReloadIsRateLimited(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, ES256)
	unknown := func() string {
		jwk, sign := attackerJWK(t, ES256)
		return forge(t, with(fx.header(), "kid", jwk.KeyID), fx.claims(t), sign)
	}
	steps := []struct {
		name      string
		advance   time.Duration
		tok       string
		wantReads int
	}{
		{"first unknown kid", 0, unknown(), 1},
		{"second at once", 0, unknown(), 0},
		{"just before the interval", DefaultKidReloadInterval - time.Millisecond, unknown(), 0},
		{"after the interval", time.Millisecond, unknown(), 1},
		{"kid that is no thumbprint", time.Hour, forge(t, with(fx.header(), "kid", "../../etc/passwd"), fx.claims(t), signer(t, foreignKey(t, ES256))), 0},
	}
	for _, s := range steps {
		fx.clock.Advance(s.advance)
		before := fx.store.listCount()
		_, err := fx.m.Verify(ctx, s.tok)
		wantInvalid(t, err)
		if got := fx.store.listCount() - before; got != s.wantReads {
			t.Errorf("%s: store reads got %d, want %d", s.name, got, s.wantReads)
		}
	}
}

// gatedKeys holds ListSigningKeys until the gate opens, so that many
// verifications meet one reload in flight.
type gatedKeys struct {
	*fakeKeys
	gate chan struct{}
}

func (g *gatedKeys) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	<-g.gate
	return g.fakeKeys.ListSigningKeys(ctx)
}

// Concurrent requests with the same new kid share one store read.
func TestUnknownKidReloadSingleFlight(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, ES256)
	gated := &gatedKeys{fakeKeys: fx.store, gate: make(chan struct{})}
	close(gated.gate)
	b := newManager(t, gated, testOptions(ES256, fx.clock))
	gated.gate = make(chan struct{})
	for range 2 {
		fx.clock.Advance(publishDelay)
		if _, err := fx.m.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	tok, _ := mustIssue(t, fx.m, Claims{Subject: "u", SessionID: "s"})
	before := fx.store.listCount()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := b.Verify(ctx, tok); err != nil {
				t.Errorf("Verify: got %v, want valid", err)
			}
		})
	}
	close(gated.gate)
	wg.Wait()
	if got := fx.store.listCount() - before; got != 1 {
		t.Errorf("store reads for 8 concurrent requests: got %d, want 1", got)
	}
}

// Changing the algorithm takes effect at the next rotation, so that the
// first key of the new algorithm is published before it signs (DESIGN.md
// "Tokens": no verifier ever meets an unknown key).
func TestAlgorithmChange(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, ES256)
	oldTok, _ := mustIssue(t, fx.m, Claims{Subject: "u", SessionID: "s"})
	oldCur := fx.current().id
	oldNext := onlyKid(t, fx.store.inState(store.KeyNext))

	m := newManager(t, fx.store, testOptions(EdDSA, fx.clock))
	if got := m.set.Load().current.id; got != oldCur {
		t.Errorf("current after the algorithm change: got %s, want the old %s until rotation", got, oldCur)
	}
	next := fx.store.inState(store.KeyNext)
	if len(next) != 1 || next[0].Algorithm != EdDSA {
		t.Fatalf("next keys: got %v, want one EdDSA key", next)
	}
	if got := fx.store.inState(store.KeyRetired); len(got) != 1 || got[0].ID != oldNext {
		t.Errorf("retired keys: got %v, want the unused ES256 next key %s", got, oldNext)
	}
	if diff := cmp.Diff([]string{ES256, EdDSA}, m.Algorithms()); diff != "" {
		t.Errorf("Algorithms (-want +got):\n%s", diff)
	}

	fx.clock.Advance(publishDelay)
	kid, err := m.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if kid != next[0].ID {
		t.Errorf("Rotate: got current %s, want the EdDSA key %s", kid, next[0].ID)
	}
	tok, _ := mustIssue(t, m, Claims{Subject: "u", SessionID: "s"})
	if got := decodeSegment(t, tok, 0)["alg"]; got != EdDSA {
		t.Errorf("alg after rotation: got %v, want EdDSA", got)
	}
	for _, raw := range []string{oldTok, tok} {
		if _, err := m.Verify(ctx, raw); err != nil {
			t.Errorf("Verify: %v", err)
		}
	}
}

// A reload that reads the same keys keeps the same set, and so the same
// encoded JWKS, and parses nothing.
func TestReloadUnchangedKeepsSet(t *testing.T) {
	fx := newFixture(t, RS256)
	before := fx.m.set.Load()
	if err := fx.m.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fx.m.set.Load() != before {
		t.Error("Reload of unchanged keys swapped the key set, want it kept")
	}
	// The caller's copy cannot change the cached document.
	doc := fx.m.JWKS()
	doc[0] = 'X'
	if got := fx.m.JWKS(); got[0] != '{' {
		t.Errorf("JWKS after a caller modified its copy: got %q...", got[:10])
	}
}

// A row that was tampered with, or sealed under another secret, is never
// used (ASVS 5.0 V11.3: authenticated encryption; the kid binds the row).
func TestLoadRefusesTamperedKeys(t *testing.T) {
	ctx := context.Background()

	t.Run("wrong secret", func(t *testing.T) {
		ks := initialisedStore(t, ES256)
		other, err := NewSealer([]byte("another secret key of 32 bytes!!"))
		if err != nil {
			t.Fatal(err)
		}
		m, err := NewManager(ks, other, testOptions(ES256, newClock()), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Init(ctx); err == nil {
			t.Error("Init with another secret: got nil error, want one")
		}
		if m.Ready() {
			t.Error("Ready: got true, want false")
		}
	})

	edits := []struct {
		name        string
		state       store.KeyState
		edit        func(k, other *store.SigningKey)
		wantErr     bool // Reload fails: the current key is unusable
		wantMissing bool // the key leaves the JWKS
	}{
		{"current sealed key swapped with next's", store.KeyCurrent, func(k, o *store.SigningKey) { k.SealedKey = o.SealedKey }, true, false},
		{"next sealed key swapped with current's", store.KeyNext, func(k, o *store.SigningKey) { k.SealedKey = o.SealedKey }, false, true},
		{"next public key replaced", store.KeyNext, func(k, o *store.SigningKey) { k.PublicKey = o.PublicKey }, false, true},
		{"next algorithm changed", store.KeyNext, func(k, o *store.SigningKey) { k.Algorithm = RS256 }, false, true},
		{"current algorithm unknown", store.KeyCurrent, func(k, o *store.SigningKey) { k.Algorithm = "HS256" }, true, false},
	}
	for _, e := range edits {
		t.Run(e.name, func(t *testing.T) {
			ks := initialisedStore(t, ES256)
			c := newClock()
			var logs bytes.Buffer
			m := newLoggedManager(t, ks, testOptions(ES256, c), &logs)
			ks.mu.Lock()
			i := slices.IndexFunc(ks.keys, func(k store.SigningKey) bool { return k.State == e.state })
			e.edit(&ks.keys[i], &ks.keys[1-i])
			kid := ks.keys[i].ID
			ks.mu.Unlock()
			// m has every key parsed and cached by kid, so the edit cannot
			// reach it; a new instance must unseal every key.
			if err := m.Reload(ctx); err != nil && !e.wantErr {
				t.Errorf("Reload of an instance that has the keys: %v", err)
			}
			m2, err := NewManager(ks, testSealer(t), testOptions(ES256, c), slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			err = m2.Reload(ctx)
			if got := err != nil; got != e.wantErr {
				t.Fatalf("Reload: got error %v, want error: %v", err, e.wantErr)
			}
			if e.wantErr {
				if m2.Ready() {
					t.Error("Ready after a failed load: got true, want false")
				}
				return
			}
			if got := slices.Contains(jwksKids(t, m2.JWKS()), kid); got == e.wantMissing {
				t.Errorf("tampered key %s in JWKS: got %v, want %v", kid, got, !e.wantMissing)
			}
			if e.wantMissing && !bytes.Contains(logs.Bytes(), []byte("cannot be loaded")) {
				t.Errorf("logs: got %q, want the refused key reported", logs.String())
			}
		})
	}
}

// A reload whose new current key cannot be loaded keeps the old set, so
// that the instance goes on signing with a key that is still published.
func TestReloadFailureKeepsSet(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, ES256)
	before := fx.m.set.Load()
	// A key this instance has never loaded becomes current, and its
	// sealed private key is damaged.
	k, err := newStoredKey(ES256, testSealer(t), fx.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	k.SealedKey[len(k.SealedKey)-1] ^= 1
	fx.store.mu.Lock()
	for i := range fx.store.keys {
		if k := &fx.store.keys[i]; k.State == store.KeyCurrent {
			k.State, k.RetireAt = store.KeyPrevious, fx.clock.Now().Add(time.Hour)
		}
	}
	k.State, k.ActivatedAt = store.KeyCurrent, fx.clock.Now()
	fx.store.keys = append(fx.store.keys, k)
	fx.store.mu.Unlock()
	if err := fx.m.Reload(ctx); err == nil {
		t.Fatal("Reload with an unusable current key: got nil error, want one")
	}
	if fx.m.set.Load() != before {
		t.Error("a failed Reload replaced the key set, want the old one kept")
	}
	if _, _, err := fx.m.Issue(Claims{Subject: "u", SessionID: "s"}); err != nil {
		t.Errorf("Issue after a failed Reload: %v", err)
	}
}

// Issue, Verify, Rotate and Reload run together without a data race (run
// with -race) and without a failed verification.
func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, ES256)
	b := newManager(t, fx.store, testOptions(ES256, fx.clock))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			issuer, verifier := fx.m, b
			if i%2 == 1 {
				issuer, verifier = b, fx.m
			}
			for {
				select {
				case <-stop:
					return
				default:
				}
				tok, _, err := issuer.Issue(Claims{Subject: "u", SessionID: fmt.Sprint(i)})
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := verifier.Verify(ctx, tok); err != nil {
					t.Errorf("Verify during rotation: %v", err)
					return
				}
			}
		})
	}
	// Forced: waiting PublishDelay three times would outlast the tokens
	// in flight, and the guard is not what this test is about.
	for range 3 {
		if _, err := fx.m.RotateForce(ctx); err != nil {
			t.Fatal(err)
		}
		if err := b.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		_ = fx.m.JWKS()
		_ = b.Algorithms()
	}
	close(stop)
	wg.Wait()
}

// Run reloads until its context ends.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	fx := newFixture(t, ES256)
	opts := testOptions(ES256, fx.clock)
	opts.ReloadInterval = time.Millisecond
	b := newManager(t, fx.store, opts)
	done := make(chan struct{})
	go func() {
		b.Run(ctx)
		close(done)
	}()
	fx.clock.Advance(publishDelay)
	kid, err := fx.m.Rotate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	waitCurrent(t, b, kid, "Run did not pick up the rotation to")
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func TestNewManagerRefusesBadOptions(t *testing.T) {
	c := newClock()
	tests := []struct {
		name string
		edit func(*Options)
	}{
		{"no issuer", func(o *Options) { o.Issuer = "" }},
		{"no audience", func(o *Options) { o.Audience = nil }},
		{"empty audience", func(o *Options) { o.Audience = []string{""} }},
		{"HS256", func(o *Options) { o.Algorithm = "HS256" }},
		{"none", func(o *Options) { o.Algorithm = "none" }},
		{"negative TTL", func(o *Options) { o.AccessTTL = -time.Second }},
		{"negative leeway", func(o *Options) { o.Leeway = -time.Second }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOptions(ES256, c)
			tt.edit(&opts)
			if _, err := NewManager(&fakeKeys{}, testSealer(t), opts, nil); err == nil {
				t.Error("NewManager: got nil error, want one")
			}
		})
	}
	if _, err := NewManager(nil, testSealer(t), testOptions(ES256, c), nil); err == nil {
		t.Error("NewManager without a store: got nil error, want one")
	}
}

// Keys reports what `latch keys list` shows, and nothing private.
func TestKeys(t *testing.T) {
	fx := newFixture(t, ES256)
	infos, err := fx.m.Keys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var want []KeyInfo
	for _, k := range fx.store.keys {
		want = append(want, KeyInfo{ID: k.ID, Algorithm: k.Algorithm, State: k.State, CreatedAt: k.CreatedAt, ActivatedAt: k.ActivatedAt})
	}
	if diff := cmp.Diff(want, infos); diff != "" {
		t.Errorf("Keys (-want +got):\n%s", diff)
	}
}
