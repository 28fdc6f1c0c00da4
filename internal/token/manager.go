package token

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchauth/latch/internal/store"
)

// KeyStore is the part of store.Store that the Manager needs.
type KeyStore interface {
	// ListSigningKeys returns every key, oldest first.
	ListSigningKeys(ctx context.Context) ([]store.SigningKey, error)
	// UpdateSigningKeys runs fn under a lock shared by every instance and
	// inserts or replaces (by ID) the keys fn returns.
	UpdateSigningKeys(ctx context.Context, fn func([]store.SigningKey) ([]store.SigningKey, error)) error
}

// Defaults for the zero fields of Options.
const (
	DefaultAlgorithm = ES256
	DefaultAccessTTL = 15 * time.Minute
	// DefaultLeeway tolerates the clock skew between latch instances and
	// the services verifying their tokens. RFC 7519 §4.1.4 asks for "a
	// small leeway, usually no more than a few minutes"; 30 seconds covers
	// NTP-synchronised hosts by orders of magnitude while adding only 3% to
	// a 15-minute token's life.
	DefaultLeeway            = 30 * time.Second
	DefaultClientID          = "latch"
	DefaultReloadInterval    = 30 * time.Second
	DefaultKidReloadInterval = 5 * time.Second
)

// JWKSMaxAge is how long a JWKS document may be cached: the HTTP layer
// serves it with Cache-Control max-age of this many seconds, and the
// rotation guard waits for it (see Options.PublishDelay).
const JWKSMaxAge = 5 * time.Minute

// publishMargin is added to the default PublishDelay for the clock skew
// between the instance that created a key and the one that rotates, and
// for a cache's fetch taking a moment.
const publishMargin = 30 * time.Second

// MaxTokenSize is the longest token Verify looks at. latch's tokens are
// under 1.5 KiB even with RS256; the cap bounds the work an attacker can
// make a verifier do before the signature is checked.
const MaxTokenSize = 8 << 10

// kidReloadTimeout bounds a store read triggered by a token's unknown kid;
// it runs detached from the request so that the one request that started
// it cannot cancel it for the others waiting on it.
const kidReloadTimeout = 5 * time.Second

// Options configure a Manager. Zero durations and strings take the
// defaults above.
type Options struct {
	// Issuer is the exact iss of issued tokens and the only one Verify
	// accepts: latch's public URL.
	Issuer string
	// Audience is the aud of issued tokens; Verify accepts a token whose
	// aud contains any of them.
	Audience []string
	// Algorithm signs new keys: ES256 (default), EdDSA or RS256. Changing
	// it takes effect at the next rotation, so that the first key of the
	// new algorithm is published before it signs.
	Algorithm string
	// AccessTTL is the lifetime of an access token.
	AccessTTL time.Duration
	// Leeway is the clock skew allowed on exp, nbf and iat.
	Leeway time.Duration
	// ClientID is the client_id of tokens issued without one.
	ClientID string
	// ReloadInterval is how often Run reads the keys from the store, and
	// so how long other instances may go on signing with a key after a
	// rotation; a previous key stays published that much longer.
	ReloadInterval time.Duration
	// KidReloadInterval is the least time between two store reads
	// triggered by tokens whose kid is unknown.
	KidReloadInterval time.Duration
	// PublishDelay is how long a next key must have been in the store
	// before Rotate lets it sign: every instance publishes it within
	// ReloadInterval, and a verifier's cached JWKS is at most JWKSMaxAge
	// old, so that none meets a kid it does not know. Zero means
	// JWKSMaxAge + ReloadInterval + 30 s (6 minutes with the default
	// ReloadInterval); less than JWKSMaxAge + ReloadInterval is refused.
	PublishDelay time.Duration
	// RotationInterval, when not zero, makes Run rotate the keys once the
	// current key has signed this long, whichever instance gets there
	// first, exactly once per interval however many instances share the
	// store. It must be at least PublishDelay + AccessTTL, so that the next
	// key is published when its turn comes and the previous key retires
	// before the following rotation.
	RotationInterval time.Duration
	// Now is the clock for every expiry decision; time.Now if nil.
	Now func() time.Time
}

// Errors returned by the Manager.
var (
	// ErrInvalidToken is wrapped by every error Verify returns. The rest of
	// the message says why, for logs only: callers answer invalid_token
	// whatever the reason.
	ErrInvalidToken = errors.New("token: invalid access token")
	// ErrNoSigningKey: Issue was called before Init loaded a current key,
	// or the store holds none.
	ErrNoSigningKey = errors.New("token: no current signing key")
	// ErrNextKeyTooNew: Rotate refused because the next key was stored
	// less than Options.PublishDelay ago; the message says how long to
	// wait. RotateForce rotates all the same.
	ErrNextKeyTooNew = errors.New("token: next signing key is too new to sign")
)

// Manager issues and verifies access tokens and keeps the signing keys:
// their creation, rotation and publication. It is safe for concurrent use.
// Issue, JWKS, and Verify of a token whose kid is known read an immutable
// key set through an atomic pointer and take no lock.
type Manager struct {
	store  KeyStore
	sealer *Sealer
	opts   Options
	log    *slog.Logger

	set atomic.Pointer[keySet]

	// verified spares Verify the signature check of a token it has
	// checked before; see verifiedMemo for what it may and may not skip.
	verified verifiedMemo

	// reloadSem serialises reloads, so that key sets are swapped in the
	// order they were read and cache needs no lock of its own. It is a
	// channel rather than a mutex so that waiting honours the context.
	reloadSem chan struct{}
	cache     map[string]*signingKey // by kid; guarded by reloadSem

	kidMu         sync.Mutex
	lastKidReload time.Time     // guarded by kidMu
	kidFlight     chan struct{} // closed when the running kid reload ends; guarded by kidMu
}

// keySet is one immutable snapshot of the published keys.
type keySet struct {
	current *signingKey
	byID    map[string]*signingKey // next, current and previous keys
	algs    []string
	jwks    []byte
	// version names the keys and states the set was built from; a reload
	// that reads the same version keeps the set (and its JWKS) as it is.
	// Empty when a key failed to load, so that the next reload retries.
	version string
}

// KeyInfo describes a signing key without its private part.
type KeyInfo struct {
	ID           string // kid: the RFC 7638 thumbprint of the public key
	Algorithm    string
	State        store.KeyState
	CreatedAt    time.Time
	ActivatedAt  time.Time // became current; zero if never
	DeactivateAt time.Time // became previous; zero if never
	RetireAt     time.Time // leaves the JWKS; zero unless previous or retired
}

// NewManager checks opts and returns a Manager with no keys loaded; call
// Init before Issue or Verify.
func NewManager(ks KeyStore, s *Sealer, opts Options, log *slog.Logger) (*Manager, error) {
	if ks == nil || s == nil {
		return nil, errors.New("token: NewManager needs a key store and a sealer")
	}
	if opts.Issuer == "" {
		return nil, errors.New("token: Options.Issuer is required")
	}
	if len(opts.Audience) == 0 || slices.Contains(opts.Audience, "") {
		return nil, errors.New("token: Options.Audience needs at least one non-empty audience")
	}
	if opts.Algorithm == "" {
		opts.Algorithm = DefaultAlgorithm
	}
	if !validAlg(opts.Algorithm) {
		return nil, fmt.Errorf("token: unsupported signing algorithm %q (want %s, %s or %s)", opts.Algorithm, ES256, EdDSA, RS256)
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"AccessTTL", &opts.AccessTTL, DefaultAccessTTL},
		{"Leeway", &opts.Leeway, DefaultLeeway},
		{"ReloadInterval", &opts.ReloadInterval, DefaultReloadInterval},
		{"KidReloadInterval", &opts.KidReloadInterval, DefaultKidReloadInterval},
		// Its default depends on ReloadInterval: set below.
		{"PublishDelay", &opts.PublishDelay, 0},
		{"RotationInterval", &opts.RotationInterval, 0},
	} {
		if *d.v < 0 {
			return nil, fmt.Errorf("token: Options.%s is negative", d.name)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if opts.PublishDelay == 0 {
		opts.PublishDelay = JWKSMaxAge + opts.ReloadInterval + publishMargin
	}
	if least := JWKSMaxAge + opts.ReloadInterval; opts.PublishDelay < least {
		return nil, fmt.Errorf("token: Options.PublishDelay %s is shorter than %s: a verifier may cache the JWKS for %s and an instance publish a new key %s late, so a key must wait that long before it signs",
			opts.PublishDelay, least, JWKSMaxAge, opts.ReloadInterval)
	}
	if least := minRotationInterval(opts); opts.RotationInterval != 0 && opts.RotationInterval < least {
		return nil, fmt.Errorf("token: Options.RotationInterval %s is shorter than %s: the next key must be published for PublishDelay (%s) before it signs, and the key it replaces must stay published until its last token has expired (AccessTTL %s)",
			opts.RotationInterval, least, opts.PublishDelay, opts.AccessTTL)
	}
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts.Audience = slices.Clone(opts.Audience)
	return &Manager{
		store:     ks,
		sealer:    s,
		opts:      opts,
		log:       log,
		reloadSem: make(chan struct{}, 1),
		cache:     map[string]*signingKey{},
	}, nil
}

func (m *Manager) now() time.Time { return m.opts.Now() }

// retireDelay is how long a key stays published after it stops signing
// here: until the last token it signed expires, allowing for the clock
// skew of verifiers and for other instances that sign with it until
// their next reload.
func (m *Manager) retireDelay() time.Duration { return retireDelay(m.opts) }

func retireDelay(opts Options) time.Duration {
	return opts.AccessTTL + opts.Leeway + opts.ReloadInterval
}

// minRotationInterval is the shortest automatic rotation interval: the
// next key, stored at the previous rotation, must have been published for
// PublishDelay, and the key that rotation retired must be gone, so that
// the store never holds more than one previous key. PublishDelay +
// AccessTTL covers the second too unless Leeway is longer than JWKSMaxAge.
func minRotationInterval(opts Options) time.Duration {
	return max(opts.PublishDelay+opts.AccessTTL, retireDelay(opts))
}

// Init makes sure the store holds a current key and a next key of the
// configured algorithm, then loads the keys. Keys are created inside one
// UpdateSigningKeys, so instances starting together create one set; a
// fresh install ends with a current and a next key.
func (m *Manager) Init(ctx context.Context) error {
	keys, err := m.store.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("init signing keys: %w", err)
	}
	// A dry run of ensure on what the store holds now counts the keys to
	// generate before the lock is taken.
	missing := 0
	changes, err := m.ensure(keys, m.now(), func() (store.SigningKey, error) {
		missing++
		return store.SigningKey{}, nil
	})
	if err != nil {
		return fmt.Errorf("init signing keys: %w", err)
	}
	if len(changes) > 0 {
		if err := m.applyEnsure(ctx, missing); err != nil {
			return fmt.Errorf("init signing keys: %w", err)
		}
	}
	if err := m.Reload(ctx); err != nil {
		return fmt.Errorf("init signing keys: %w", err)
	}
	if cur := m.set.Load().current; string(cur.alg) != m.opts.Algorithm {
		m.log.Warn("the current signing key uses another algorithm than configured; the configured one signs from the next rotation (latch keys rotate)",
			"kid", cur.id, "alg", string(cur.alg), "configured", m.opts.Algorithm)
	}
	return nil
}

// applyEnsure generates the keys Init expects to need before taking the
// store's lock (an RSA key takes a second or more), then applies ensure
// under the lock, generating more only if another instance got there in
// between with a different outcome.
func (m *Manager) applyEnsure(ctx context.Context, missing int) error {
	pool := make([]store.SigningKey, 0, missing)
	for range missing {
		k, err := newStoredKey(m.opts.Algorithm, m.sealer, m.now())
		if err != nil {
			return err
		}
		pool = append(pool, k)
	}
	var changes []store.SigningKey
	err := m.store.UpdateSigningKeys(ctx, func(keys []store.SigningKey) ([]store.SigningKey, error) {
		used := 0
		var err error
		changes, err = m.ensure(keys, m.now().UTC(), func() (store.SigningKey, error) {
			if used < len(pool) {
				used++
				return pool[used-1], nil
			}
			return newStoredKey(m.opts.Algorithm, m.sealer, m.now())
		})
		return changes, err
	})
	if err != nil {
		return err
	}
	for _, k := range changes {
		m.log.Info("signing key stored", "kid", k.ID, "alg", k.Algorithm, "state", string(k.State))
	}
	return nil
}

// ensure returns the changes that leave keys with one current key and one
// next key of the configured algorithm; gen supplies new keys.
func (m *Manager) ensure(keys []store.SigningKey, now time.Time, gen func() (store.SigningKey, error)) ([]store.SigningKey, error) {
	cur, next := pick(keys)
	var out []store.SigningKey
	if next != nil && next.Algorithm != m.opts.Algorithm {
		// It never signed, so it can leave at once; its replacement of the
		// configured algorithm becomes current at the next rotation.
		r := *next
		r.State, r.RetireAt = store.KeyRetired, now
		out, next = append(out, r), nil
	}
	if cur == nil {
		var c store.SigningKey
		if next != nil {
			// Already published: promoting it keeps every verifier's cached
			// JWKS valid.
			c, next = *next, nil
		} else {
			var err error
			if c, err = gen(); err != nil {
				return nil, err
			}
			c.CreatedAt = now
		}
		c.State, c.ActivatedAt = store.KeyCurrent, now
		out = append(out, c)
	}
	if next == nil {
		n, err := gen()
		if err != nil {
			return nil, err
		}
		// A key generated before the lock was taken is stamped with the
		// moment it is stored: PublishDelay counts from there.
		n.State, n.CreatedAt = store.KeyNext, now
		out = append(out, n)
	}
	return out, nil
}

// pick finds the signing key (the latest activated current key) and the
// newest next key; either may be nil.
func pick(keys []store.SigningKey) (cur, next *store.SigningKey) {
	for i := range keys {
		k := &keys[i]
		switch k.State {
		case store.KeyCurrent:
			if cur == nil || k.ActivatedAt.After(cur.ActivatedAt) ||
				k.ActivatedAt.Equal(cur.ActivatedAt) && k.CreatedAt.After(cur.CreatedAt) {
				cur = k
			}
		case store.KeyNext:
			if next == nil || !k.CreatedAt.Before(next.CreatedAt) {
				next = k
			}
		}
	}
	return cur, next
}

// Rotate promotes the next key to current, demotes the current key to
// previous (published until its last token has expired), retires previous
// keys whose time is up and creates a new next key, all in one
// UpdateSigningKeys; then it reloads. It returns the new current kid.
//
// It refuses, with an error wrapping ErrNextKeyTooNew that says how long
// to wait, while the next key has been stored for less than
// Options.PublishDelay: a verifier holding an older cached JWKS would not
// know the key. A fresh install stores its current and next keys
// together, so its first rotation is possible PublishDelay after Init.
// A next key of another algorithm than configured (stored by an instance
// configured differently) is promoted all the same, since it is the one
// verifiers know; the new next key has the configured algorithm. If the
// store holds no next key, Rotate stores one and refuses.
func (m *Manager) Rotate(ctx context.Context) (string, error) {
	return m.rotate(ctx, rotateChecked, true)
}

// RotateForce rotates like Rotate without waiting for PublishDelay, for
// when the current key must stop signing now (it leaked, say). Verifiers
// whose cached JWKS lacks the new key refuse its tokens until they fetch
// the JWKS again; RFC 8725 verifiers and latch's own instances refetch on
// an unknown kid. If the store holds no next key of the configured
// algorithm, a key generated on the spot signs at once.
func (m *Manager) RotateForce(ctx context.Context) (string, error) {
	return m.rotate(ctx, rotateForced, true)
}

// rotateMode says which rotation to make.
type rotateMode int

const (
	rotateChecked rotateMode = iota // Rotate: PublishDelay applies
	rotateForced                    // RotateForce: no delay
	// rotateAuto is Run's: like rotateChecked, and only when the current
	// key has signed for RotationInterval. Deciding that under the
	// store's lock makes a fleet rotate once, not once per instance.
	rotateAuto
)

// rotate makes a rotation of mode and reloads. pregenerate says whether a
// new next key is likely to be needed: it is then generated before the
// lock is taken, since an RSA key takes a second or more, during which
// other instances would wait.
func (m *Manager) rotate(ctx context.Context, mode rotateMode, pregenerate bool) (string, error) {
	var pre *store.SigningKey
	if pregenerate {
		k, err := newStoredKey(m.opts.Algorithm, m.sealer, m.now())
		if err != nil {
			return "", fmt.Errorf("rotate signing keys: %w", err)
		}
		pre = &k
	}
	gen := func() (store.SigningKey, error) {
		if k := pre; k != nil {
			pre = nil
			return *k, nil
		}
		return newStoredKey(m.opts.Algorithm, m.sealer, m.now())
	}
	var kid string
	var changes []store.SigningKey
	var refused error
	err := m.store.UpdateSigningKeys(ctx, func(keys []store.SigningKey) ([]store.SigningKey, error) {
		var err error
		changes, kid, refused, err = m.rotation(keys, m.now().UTC(), mode, gen)
		return changes, err
	})
	if err != nil {
		return "", fmt.Errorf("rotate signing keys: %w", err)
	}
	for _, k := range changes {
		m.log.Info("signing key stored", "kid", k.ID, "alg", k.Algorithm, "state", string(k.State))
		if age := k.ActivatedAt.Sub(k.CreatedAt); k.State == store.KeyCurrent && age < m.opts.PublishDelay {
			m.log.Warn("forced rotation to a key published less than PublishDelay ago; verifiers whose cached JWKS lacks it must fetch it again",
				"kid", k.ID, "published", age.Round(time.Second).String(), "publish_delay", m.opts.PublishDelay.String())
		}
	}
	var reloadErr error
	if len(changes) > 0 {
		reloadErr = m.Reload(ctx)
	}
	if err := errors.Join(refused, reloadErr); err != nil {
		return kid, fmt.Errorf("rotate signing keys: %w", err)
	}
	return kid, nil
}

// rotation returns the changes that a rotation of mode makes to keys at
// now, and the new current kid; it runs under the store's lock. gen
// supplies new keys. When the rotation must wait, refused says
// why, and the changes are only those that need no rotation: retiring
// previous keys whose time is up, and storing a next key if there is
// none. With nothing to rotate (rotateAuto before its time), kid is
// empty.
func (m *Manager) rotation(keys []store.SigningKey, now time.Time, mode rotateMode, gen func() (store.SigningKey, error)) (changes []store.SigningKey, kid string, refused error, err error) {
	cur, next := pick(keys)
	for _, k := range keys {
		if k.State == store.KeyPrevious && !k.RetireAt.After(now) {
			k.State = store.KeyRetired
			changes = append(changes, k)
		}
	}
	if mode == rotateAuto && !m.rotationDue(cur, now) {
		return changes, "", nil, nil
	}
	if mode != rotateForced {
		if next == nil {
			n, err := gen()
			if err != nil {
				return nil, "", nil, err
			}
			n.State, n.CreatedAt = store.KeyNext, now
			return append(changes, n), "", m.tooNew(n, now), nil
		}
		if now.Sub(next.CreatedAt) < m.opts.PublishDelay {
			return changes, "", m.tooNew(*next, now), nil
		}
	}
	if cur != nil {
		p := *cur
		p.State, p.DeactivateAt, p.RetireAt = store.KeyPrevious, now, now.Add(m.retireDelay())
		changes = append(changes, p)
	}
	var c store.SigningKey
	if next != nil && (mode != rotateForced || next.Algorithm == m.opts.Algorithm) {
		c = *next
	} else {
		// Forced, with no published successor of the configured
		// algorithm: a fresh key signs at once, and verifiers refetch
		// the JWKS when they meet its kid.
		if next != nil {
			r := *next
			r.State, r.RetireAt = store.KeyRetired, now
			changes = append(changes, r)
		}
		if c, err = gen(); err != nil {
			return nil, "", nil, err
		}
		c.CreatedAt = now
	}
	n, err := gen()
	if err != nil {
		return nil, "", nil, err
	}
	c.State, c.ActivatedAt = store.KeyCurrent, now
	n.State, n.CreatedAt = store.KeyNext, now
	return append(changes, c, n), c.ID, nil, nil
}

// rotationDue reports whether cur has signed for RotationInterval. A key
// that was never activated (a store written by hand) counts from its
// creation.
func (m *Manager) rotationDue(cur *store.SigningKey, now time.Time) bool {
	if m.opts.RotationInterval == 0 || cur == nil {
		return false
	}
	since := cur.ActivatedAt
	if since.IsZero() {
		since = cur.CreatedAt
	}
	return !now.Before(since.Add(m.opts.RotationInterval))
}

// tooNew is the refusal to let next sign at now.
func (m *Manager) tooNew(next store.SigningKey, now time.Time) error {
	ready := next.CreatedAt.Add(m.opts.PublishDelay)
	wait := ready.Sub(now)
	// Rounded up, so that waiting as told is always enough.
	if r := wait.Truncate(time.Second); r < wait {
		wait = r + time.Second
	}
	return fmt.Errorf("%w: next key %s was stored %s ago and may sign from %s, in %s, once every cached JWKS (max-age %s) can hold it",
		ErrNextKeyTooNew, next.ID, now.Sub(next.CreatedAt).Round(time.Second), ready.UTC().Format(time.RFC3339), wait, JWKSMaxAge)
}

// Keys lists every key in the store, oldest first, without private parts.
func (m *Manager) Keys(ctx context.Context) ([]KeyInfo, error) {
	keys, err := m.store.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	out := make([]KeyInfo, len(keys))
	for i, k := range keys {
		out[i] = KeyInfo{
			ID:           k.ID,
			Algorithm:    k.Algorithm,
			State:        k.State,
			CreatedAt:    k.CreatedAt,
			ActivatedAt:  k.ActivatedAt,
			DeactivateAt: k.DeactivateAt,
			RetireAt:     k.RetireAt,
		}
	}
	return out, nil
}

// Run reloads the keys every ReloadInterval until ctx is done, so that a
// rotation made by any instance reaches this one; it marks previous keys
// retired once their time is up and, when Options.RotationInterval is
// set, rotates when the current key has signed that long. A failed turn
// is logged and the keys in memory stay in use.
func (m *Manager) Run(ctx context.Context) {
	t := time.NewTicker(m.opts.ReloadInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := m.tick(ctx); err != nil && ctx.Err() == nil {
				m.log.Warn("signing keys", "err", err)
			}
		}
	}
}

// tick is one turn of Run. It takes the store's lock only when the keys
// it has just read say there is something to write, and decides again
// under the lock, where another instance may have done it already.
func (m *Manager) tick(ctx context.Context) error {
	keys, err := m.reload(ctx)
	if err != nil {
		return err
	}
	now := m.now()
	cur, _ := pick(keys)
	due := m.rotationDue(cur, now)
	if !due && !slices.ContainsFunc(keys, func(k store.SigningKey) bool {
		return k.State == store.KeyPrevious && !k.RetireAt.After(now)
	}) {
		return nil
	}
	if _, err := m.rotate(ctx, rotateAuto, due); errors.Is(err, ErrNextKeyTooNew) {
		// Only when the next key was replaced (an algorithm change) or
		// missing, since the interval is longer than PublishDelay; a later
		// turn rotates.
		m.log.Info("automatic key rotation waits for the next key to be published", "err", err)
	} else if err != nil {
		return err
	}
	return nil
}

// Reload reads the keys from the store and swaps in the new set at once.
// Keys already loaded are not unsealed or parsed again. If the current key
// cannot be loaded the previous set stays in use and Reload fails; a
// published key that cannot be loaded is logged and left out.
func (m *Manager) Reload(ctx context.Context) error {
	_, err := m.reload(ctx)
	return err
}

// reload is Reload, returning the keys it read.
func (m *Manager) reload(ctx context.Context) ([]store.SigningKey, error) {
	select {
	case m.reloadSem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("reload signing keys: %w", ctx.Err())
	}
	defer func() { <-m.reloadSem }()
	keys, err := m.store.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("reload signing keys: %w", err)
	}
	if err := m.load(keys); err != nil {
		return nil, fmt.Errorf("reload signing keys: %w", err)
	}
	return keys, nil
}

// load builds and swaps in the key set for keys. The caller holds
// reloadSem.
func (m *Manager) load(keys []store.SigningKey) error {
	now := m.now()
	cur, _ := pick(keys)
	if cur == nil {
		return fmt.Errorf("%w in the store", ErrNoSigningKey)
	}
	// Published order: the signing key first (for clients that naively
	// take the first key), then next keys and other published keys,
	// newest first.
	published := []store.SigningKey{*cur}
	for i := len(keys) - 1; i >= 0; i-- {
		k := keys[i]
		if k.ID == cur.ID {
			continue
		}
		switch k.State {
		case store.KeyNext, store.KeyCurrent:
			// A second current key should not exist; it may have signed, so
			// it is published but does not sign.
			published = append(published, k)
		case store.KeyPrevious:
			if k.RetireAt.After(now) {
				published = append(published, k)
			}
		}
	}
	var version strings.Builder
	for _, k := range published {
		fmt.Fprintf(&version, "%s:%s:%s;", k.ID, k.Algorithm, k.State)
	}
	old := m.set.Load()
	if old != nil && old.version == version.String() {
		return nil
	}

	loaded := make([]*signingKey, 0, len(published))
	complete := true
	for _, sk := range published {
		k := m.cache[sk.ID]
		if k == nil || string(k.alg) != sk.Algorithm {
			var err error
			if k, err = loadKey(sk, m.sealer); err != nil {
				if sk.ID == cur.ID {
					return fmt.Errorf("load current key %s: %w", sk.ID, err)
				}
				m.log.Error("signing key cannot be loaded; it is not published", "kid", sk.ID, "state", string(sk.State), "err", err)
				complete = false
				continue
			}
		}
		loaded = append(loaded, k)
	}

	set := &keySet{
		current: loaded[0],
		byID:    make(map[string]*signingKey, len(loaded)),
	}
	for _, k := range loaded {
		set.byID[k.id] = k
		if !slices.Contains(set.algs, string(k.alg)) {
			set.algs = append(set.algs, string(k.alg))
		}
	}
	jwks, err := jwksDocument(loaded)
	if err != nil {
		return err
	}
	set.jwks = jwks
	if complete {
		set.version = version.String()
	}
	// Keys that left the published set leave the cache too.
	m.cache = set.byID
	m.set.Store(set)
	if old == nil || old.current != set.current || len(old.byID) != len(set.byID) {
		m.log.Info("signing keys loaded", "current", set.current.id, "alg", string(set.current.alg), "published", len(loaded))
	}
	return nil
}

// Ready reports whether a current key is loaded, so that Issue can work.
func (m *Manager) Ready() bool {
	return m.set.Load() != nil
}

// JWKS returns the JSON Web Key Set of the published keys (current, next,
// previous): public parts only, each with kid, alg and use "sig". The
// document is encoded once per key set; the caller gets its own copy.
func (m *Manager) JWKS() []byte {
	set := m.set.Load()
	if set == nil {
		return []byte(`{"keys":[]}`)
	}
	return bytes.Clone(set.jwks)
}

// Algorithms returns the algorithms of the published keys, the current
// key's first, e.g. for discovery's signing_alg_values_supported lists.
func (m *Manager) Algorithms() []string {
	set := m.set.Load()
	if set == nil {
		return nil
	}
	return slices.Clone(set.algs)
}
