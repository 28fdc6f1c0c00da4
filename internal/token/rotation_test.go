package token

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchauth/latch/internal/store"
)

// storeKeys returns a copy of the keys in ks.
func storeKeys(ks *fakeKeys) []store.SigningKey { return ks.snapshot().keys }

// A next key signs only once it has been stored for PublishDelay: every
// instance publishes it within ReloadInterval and every cached JWKS
// (max-age JWKSMaxAge) is fetched again by then, so no verifier meets an
// unknown kid (DESIGN.md "Tokens"). Until then Rotate changes nothing and
// says how long to wait.
func TestRotateWaitsForPublishDelay(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, ES256)
	start := fx.clock.Now()
	before := storeKeys(fx.store)
	cur := fx.current().id
	next := onlyKid(t, fx.store.inState(store.KeyNext))
	steps := []struct {
		at       time.Duration
		wantWait string
	}{
		{0, "in 6m0s"},
		{time.Minute, "in 5m0s"},
		{publishDelay - time.Second, "in 1s"},
		{publishDelay - time.Millisecond, "in 1s"},
	}
	for _, s := range steps {
		fx.clock.Advance(start.Add(s.at).Sub(fx.clock.Now()))
		kid, err := fx.m.Rotate(ctx)
		if !errors.Is(err, ErrNextKeyTooNew) {
			t.Fatalf("Rotate %s after Init: got %q, %v; want ErrNextKeyTooNew", s.at, kid, err)
		}
		if !strings.Contains(err.Error(), s.wantWait) || !strings.Contains(err.Error(), next) {
			t.Errorf("Rotate %s after Init: got %q, want it to name %s and say %q", s.at, err, next, s.wantWait)
		}
		if diff := cmp.Diff(before, storeKeys(fx.store)); diff != "" {
			t.Fatalf("keys after a refused rotation (-before +after):\n%s", diff)
		}
		if got := fx.current().id; got != cur {
			t.Fatalf("signing key after a refused rotation: got %s, want %s", got, cur)
		}
	}
	fx.clock.Advance(start.Add(publishDelay).Sub(fx.clock.Now()))
	kid, err := fx.m.Rotate(ctx)
	if err != nil {
		t.Fatalf("Rotate PublishDelay after Init: %v", err)
	}
	if kid != next {
		t.Errorf("Rotate: got current %s, want the next key %s", kid, next)
	}
	// The new next key waits its turn in the same way.
	if _, err := fx.m.Rotate(ctx); !errors.Is(err, ErrNextKeyTooNew) {
		t.Errorf("Rotate right after a rotation: got %v, want ErrNextKeyTooNew", err)
	}
}

// RotateForce skips the wait, for a key that must stop signing now, and
// says so in the log.
func TestRotateForce(t *testing.T) {
	ctx := context.Background()
	ks := initialisedStore(t, ES256)
	c := newClock()
	var logs bytes.Buffer
	m := newLoggedManager(t, ks, testOptions(ES256, c), &logs)
	old := m.set.Load().current.id
	next := onlyKid(t, ks.inState(store.KeyNext))
	for i, want := range []string{next, ""} {
		kid, err := m.RotateForce(ctx)
		if err != nil {
			t.Fatalf("RotateForce %d: %v", i+1, err)
		}
		if want != "" && kid != want {
			t.Errorf("RotateForce: got current %s, want the next key %s", kid, want)
		}
		if got := m.set.Load().current.id; got != kid {
			t.Errorf("signing key after RotateForce: got %s, want %s", got, kid)
		}
	}
	if got := len(ks.inState(store.KeyPrevious)); got != 2 {
		t.Errorf("previous keys after two forced rotations: got %d, want 2 (%s and %s)", got, old, next)
	}
	if got := strings.Count(logs.String(), "forced rotation"); got != 2 {
		t.Errorf("warnings about forced rotations: got %d, want 2; logs:\n%s", got, logs.String())
	}
}

// A store without a next key (written by hand, or by an older latch) gets
// one from Rotate, which then waits for it to be published rather than
// sign with a key nobody knows.
func TestRotateWithoutNextKey(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, ES256)
	fx.store.mu.Lock()
	for i := range fx.store.keys {
		if k := &fx.store.keys[i]; k.State == store.KeyNext {
			k.State, k.RetireAt = store.KeyRetired, fx.clock.Now()
		}
	}
	fx.store.mu.Unlock()
	fx.clock.Advance(time.Hour)
	cur := fx.current().id
	if _, err := fx.m.Rotate(ctx); !errors.Is(err, ErrNextKeyTooNew) {
		t.Fatalf("Rotate without a next key: got %v, want ErrNextKeyTooNew", err)
	}
	next := fx.store.inState(store.KeyNext)
	if len(next) != 1 || !next[0].CreatedAt.Equal(fx.clock.Now()) {
		t.Fatalf("next keys after the refused rotation: got %v, want one stored now", next)
	}
	if !slices.Contains(jwksKids(t, fx.m.JWKS()), next[0].ID) {
		t.Errorf("the new next key %s is not published", next[0].ID)
	}
	if got := fx.current().id; got != cur {
		t.Errorf("signing key: got %s, want %s unchanged", got, cur)
	}
	fx.clock.Advance(publishDelay)
	kid, err := fx.m.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if kid != next[0].ID {
		t.Errorf("Rotate: got current %s, want the key stored by the refused rotation, %s", kid, next[0].ID)
	}
}

// A published next key of another algorithm than configured (stored by an
// instance configured otherwise) is promoted by Rotate: it is the key
// verifiers know. RotateForce, which need not wait, makes the configured
// algorithm sign at once instead.
func TestRotateNextKeyOfAnotherAlgorithm(t *testing.T) {
	ctx := context.Background()
	for _, force := range []bool{false, true} {
		fx := newFixture(t, ES256)
		esNext := onlyKid(t, fx.store.inState(store.KeyNext))
		// No Init: it would replace the ES256 next key.
		m, err := NewManager(fx.store, testSealer(t), testOptions(EdDSA, fx.clock), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		fx.clock.Advance(publishDelay)
		rotate := m.Rotate
		if force {
			rotate = m.RotateForce
		}
		kid, err := rotate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cur := fx.store.inState(store.KeyCurrent)
		next := fx.store.inState(store.KeyNext)
		if len(cur) != 1 || len(next) != 1 || cur[0].ID != kid {
			t.Fatalf("force=%v: got current %v and next %v, want one of each", force, cur, next)
		}
		wantCur := ES256
		if force {
			wantCur = EdDSA
			if got := fx.store.inState(store.KeyRetired); len(got) != 1 || got[0].ID != esNext {
				t.Errorf("force: retired keys: got %v, want the unused ES256 next key %s", got, esNext)
			}
		} else if kid != esNext {
			t.Errorf("current: got %s, want the published ES256 next key %s", kid, esNext)
		}
		if cur[0].Algorithm != wantCur || next[0].Algorithm != EdDSA {
			t.Errorf("force=%v: got current %s and next %s, want %s and EdDSA", force, cur[0].Algorithm, next[0].Algorithm, wantCur)
		}
	}
}

func TestNewManagerDelays(t *testing.T) {
	c := newClock()
	tests := []struct {
		name        string
		edit        func(*Options)
		wantPublish time.Duration
		wantErr     bool
	}{
		{"defaults", func(o *Options) {}, 6 * time.Minute, false},
		{"longer reload interval", func(o *Options) { o.ReloadInterval = time.Minute }, 6*time.Minute + 30*time.Second, false},
		{"publish delay at its least", func(o *Options) { o.PublishDelay = JWKSMaxAge + DefaultReloadInterval }, JWKSMaxAge + DefaultReloadInterval, false},
		{"publish delay shorter than a cached JWKS lives", func(o *Options) { o.PublishDelay = JWKSMaxAge }, 0, true},
		{"negative publish delay", func(o *Options) { o.PublishDelay = -time.Minute }, 0, true},
		{"rotation interval at its least", func(o *Options) { o.RotationInterval = 21 * time.Minute }, 6 * time.Minute, false},
		{"rotation interval a second short", func(o *Options) { o.RotationInterval = 21*time.Minute - time.Second }, 0, true},
		{"rotation interval shorter than a long leeway keeps the previous key", func(o *Options) {
			o.Leeway = 10 * time.Minute
			o.RotationInterval = 25 * time.Minute
		}, 0, true},
		{"rotation interval covering a long leeway", func(o *Options) {
			o.Leeway = 10 * time.Minute
			o.RotationInterval = 25*time.Minute + 30*time.Second
		}, 6 * time.Minute, false},
		{"rotation interval of a month", func(o *Options) { o.RotationInterval = 720 * time.Hour }, 6 * time.Minute, false},
		{"negative rotation interval", func(o *Options) { o.RotationInterval = -time.Hour }, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOptions(ES256, c)
			tt.edit(&opts)
			m, err := NewManager(&fakeKeys{}, testSealer(t), opts, nil)
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("NewManager: got error %v, want error: %v", err, tt.wantErr)
			}
			if err == nil && m.opts.PublishDelay != tt.wantPublish {
				t.Errorf("PublishDelay: got %s, want %s", m.opts.PublishDelay, tt.wantPublish)
			}
		})
	}
}

// Instances sharing a store rotate exactly once per RotationInterval
// between them, whichever ticks first (DESIGN.md "Scale"); each tick
// decides under the store's lock. Previous keys are marked retired at
// their RetireAt, so the store never holds more than one, and every
// instance signs with the store's current key after its tick.
func TestAutoRotation(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name           string
		interval, step time.Duration
	}{
		{"shortest interval", 21 * time.Minute, time.Minute},
		{"a day", 24 * time.Hour, 30 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, ES256)
			opts := testOptions(ES256, fx.clock)
			opts.RotationInterval = tt.interval
			a, b := newManager(t, fx.store, opts), newManager(t, fx.store, opts)
			start := fx.clock.Now()
			last := fx.current().id
			var rotations []time.Duration
			for i := 0; fx.clock.Now().Sub(start) <= 3*tt.interval; i++ {
				order := []*Manager{a, b}
				if i%2 == 1 {
					order = []*Manager{b, a}
				}
				for _, m := range order {
					if err := m.tick(ctx); err != nil {
						t.Fatalf("tick at +%s: %v", fx.clock.Now().Sub(start), err)
					}
				}
				now := fx.clock.Now()
				cur := onlyKid(t, fx.store.inState(store.KeyCurrent))
				onlyKid(t, fx.store.inState(store.KeyNext))
				if cur != last {
					rotations = append(rotations, now.Sub(start))
					last = cur
				}
				prev := fx.store.inState(store.KeyPrevious)
				if len(prev) > 1 {
					t.Fatalf("at +%s: %d previous keys, want at most 1", now.Sub(start), len(prev))
				}
				for _, p := range prev {
					if !p.RetireAt.After(now) {
						t.Fatalf("at +%s: previous key %s is past its RetireAt %s and not retired", now.Sub(start), p.ID, p.RetireAt)
					}
				}
				for name, m := range map[string]*Manager{"a": a, "b": b} {
					if got := m.set.Load().current.id; got != cur {
						t.Fatalf("at +%s: %s signs with %s, want the store's current %s", now.Sub(start), name, got, cur)
					}
					if got := len(jwksKids(t, m.JWKS())); got > 3 {
						t.Fatalf("at +%s: %s publishes %d keys, want at most 3", now.Sub(start), name, got)
					}
				}
				tok, _ := mustIssue(t, a, Claims{Subject: "u", SessionID: "s"})
				if _, err := b.Verify(ctx, tok); err != nil {
					t.Fatalf("at +%s: b refuses a's token: %v", now.Sub(start), err)
				}
				fx.clock.Advance(tt.step)
			}
			want := []time.Duration{tt.interval, 2 * tt.interval, 3 * tt.interval}
			if diff := cmp.Diff(want, rotations); diff != "" {
				t.Errorf("rotations since Init (-want +got):\n%s", diff)
			}
			if got := len(storeKeys(fx.store)); got != 2+len(want) {
				t.Errorf("keys in the store: got %d, want %d: one new key per rotation", got, 2+len(want))
			}
		})
	}
}

// Many instances ticking at the same moment rotate once.
func TestAutoRotationConcurrentTicks(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, ES256)
	opts := testOptions(ES256, fx.clock)
	opts.RotationInterval = 30 * time.Minute
	managers := make([]*Manager, 4)
	for i := range managers {
		managers[i] = newManager(t, fx.store, opts)
	}
	for round := 1; round <= 3; round++ {
		fx.clock.Advance(opts.RotationInterval)
		var wg sync.WaitGroup
		for _, m := range managers {
			wg.Go(func() {
				if err := m.tick(ctx); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if got, want := len(storeKeys(fx.store)), 2+round; got != want {
			t.Fatalf("round %d: keys in the store: got %d, want %d (one rotation per round)", round, got, want)
		}
		cur := onlyKid(t, fx.store.inState(store.KeyCurrent))
		for i, m := range managers {
			if err := m.Reload(ctx); err != nil {
				t.Fatal(err)
			}
			if got := m.set.Load().current.id; got != cur {
				t.Errorf("round %d: manager %d signs with %s, want %s", round, i, got, cur)
			}
		}
	}
}

// A tick takes the store's lock only when it has something to write: a
// rotation that is due, or a previous key past its RetireAt to mark
// retired, which it does whether automatic rotation is on or not.
func TestTickWritesOnlyWhenNeeded(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, ES256)
	writes := func() int { return fx.store.updateCount() }
	tick := func(name string, wantWrites int) {
		t.Helper()
		before := writes()
		if err := fx.m.tick(ctx); err != nil {
			t.Fatal(err)
		}
		if got := writes() - before; got != wantWrites {
			t.Errorf("%s: store writes got %d, want %d", name, got, wantWrites)
		}
	}
	tick("nothing to do", 0)
	fx.clock.Advance(publishDelay)
	old := fx.current().id
	if _, err := fx.m.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	retire := fx.store.inState(store.KeyPrevious)[0].RetireAt
	fx.clock.Advance(retire.Sub(fx.clock.Now()) - time.Second)
	tick("previous key before its RetireAt", 0)
	fx.clock.Advance(time.Second)
	tick("previous key at its RetireAt", 1)
	if got := onlyKid(t, fx.store.inState(store.KeyRetired)); got != old {
		t.Errorf("retired key: got %s, want %s", got, old)
	}
	if slices.Contains(jwksKids(t, fx.m.JWKS()), old) {
		t.Errorf("retired key %s still published", old)
	}
	tick("nothing left to do", 0)
	fx.clock.Advance(365 * 24 * time.Hour)
	tick("a year on, automatic rotation off", 0)
}

// A rotation that falls due while the next key is still too new (an
// algorithm change replaced it) waits for PublishDelay and then happens.
func TestAutoRotationWaitsForNewNextKey(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, ES256)
	opts := testOptions(EdDSA, fx.clock)
	opts.RotationInterval = 30 * time.Minute
	fx.clock.Advance(opts.RotationInterval)
	// Init for the new algorithm replaces the ES256 next key with an
	// EdDSA one stored now, when the current key is already due.
	m := newManager(t, fx.store, opts)
	cur := m.set.Load().current.id
	edNext := onlyKid(t, fx.store.inState(store.KeyNext))
	for _, step := range []time.Duration{0, publishDelay - time.Second} {
		fx.clock.Advance(step)
		if err := m.tick(ctx); err != nil {
			t.Fatal(err)
		}
		if got := m.set.Load().current.id; got != cur {
			t.Fatalf("tick %s after the next key was stored: rotated to %s, want no rotation yet", step, got)
		}
	}
	fx.clock.Advance(time.Second)
	if err := m.tick(ctx); err != nil {
		t.Fatal(err)
	}
	if got := m.set.Load().current.id; got != edNext {
		t.Errorf("tick PublishDelay after the next key was stored: current %s, want %s", got, edNext)
	}
}

// Run drives the ticks: with RotationInterval set, an instance left alone
// rotates by itself.
func TestRunRotates(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fx := newFixture(t, ES256)
	opts := testOptions(ES256, fx.clock)
	opts.ReloadInterval = time.Millisecond
	opts.RotationInterval = time.Hour
	m := newManager(t, fx.store, opts)
	next := onlyKid(t, fx.store.inState(store.KeyNext))
	fx.clock.Advance(opts.RotationInterval)
	done := make(chan struct{})
	go func() {
		m.Run(ctx)
		close(done)
	}()
	waitCurrent(t, m, next, "Run did not rotate to")
	cancel()
	<-done
	if got := len(storeKeys(fx.store)); got != 3 {
		t.Errorf("keys after Run's rotation: got %d, want 3 (one rotation)", got)
	}
}
