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

	jose "github.com/go-jose/go-jose/v4"

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
)

// Manager issues and verifies access tokens and keeps the signing keys:
// their creation, rotation and publication. It is safe for concurrent use.
// Issue, JWKS, and Verify of a token whose kid is known read an immutable
// key set through an atomic pointer and take no lock.
type Manager struct {
	store     KeyStore
	sealer    *Sealer
	opts      Options
	log       *slog.Logger
	parseAlgs []jose.SignatureAlgorithm

	set atomic.Pointer[keySet]

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
	} {
		if *d.v < 0 {
			return nil, fmt.Errorf("token: Options.%s is negative", d.name)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
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
		store:  ks,
		sealer: s,
		opts:   opts,
		log:    log,
		// The parse-time allow-list never holds "none" or an HMAC
		// algorithm; the key found by kid then narrows it to that key's.
		parseAlgs: []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256},
		reloadSem: make(chan struct{}, 1),
		cache:     map[string]*signingKey{},
	}, nil
}

func (m *Manager) now() time.Time { return m.opts.Now() }

// retireDelay is how long a key stays published after it stops signing
// here: until the last token it signed expires, allowing for the clock
// skew of verifiers and for other instances that sign with it until
// their next reload.
func (m *Manager) retireDelay() time.Duration {
	return m.opts.AccessTTL + m.opts.Leeway + m.opts.ReloadInterval
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
		}
		c.State, c.ActivatedAt = store.KeyCurrent, now
		out = append(out, c)
	}
	if next == nil {
		n, err := gen()
		if err != nil {
			return nil, err
		}
		n.State = store.KeyNext
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
func (m *Manager) Rotate(ctx context.Context) (string, error) {
	fresh, err := newStoredKey(m.opts.Algorithm, m.sealer, m.now())
	if err != nil {
		return "", fmt.Errorf("rotate signing keys: %w", err)
	}
	var kid string
	var changes []store.SigningKey
	err = m.store.UpdateSigningKeys(ctx, func(keys []store.SigningKey) ([]store.SigningKey, error) {
		now := m.now().UTC()
		cur, next := pick(keys)
		changes = nil
		for _, k := range keys {
			if k.State == store.KeyPrevious && !k.RetireAt.After(now) {
				k.State = store.KeyRetired
				changes = append(changes, k)
			}
		}
		if cur != nil {
			p := *cur
			p.State, p.DeactivateAt, p.RetireAt = store.KeyPrevious, now, now.Add(m.retireDelay())
			changes = append(changes, p)
		}
		var c, n store.SigningKey
		if next != nil && next.Algorithm == m.opts.Algorithm {
			c, n = *next, fresh
		} else {
			// No published successor of the configured algorithm (Init
			// normally sees to one): a fresh key signs at once, and
			// verifiers refetch the JWKS when they meet its kid.
			if next != nil {
				r := *next
				r.State, r.RetireAt = store.KeyRetired, now
				changes = append(changes, r)
			}
			c = fresh
			var err error
			if n, err = newStoredKey(m.opts.Algorithm, m.sealer, now); err != nil {
				return nil, err
			}
		}
		c.State, c.ActivatedAt = store.KeyCurrent, now
		n.State = store.KeyNext
		kid = c.ID
		changes = append(changes, c, n)
		return changes, nil
	})
	if err != nil {
		return "", fmt.Errorf("rotate signing keys: %w", err)
	}
	for _, k := range changes {
		m.log.Info("signing key stored", "kid", k.ID, "alg", k.Algorithm, "state", string(k.State))
	}
	if err := m.Reload(ctx); err != nil {
		return kid, fmt.Errorf("rotate signing keys: %w", err)
	}
	return kid, nil
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
// rotation made by any instance reaches this one. A failed reload is
// logged and the keys in memory stay in use.
func (m *Manager) Run(ctx context.Context) {
	t := time.NewTicker(m.opts.ReloadInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := m.Reload(ctx); err != nil && ctx.Err() == nil {
				m.log.Warn("reload signing keys", "err", err)
			}
		}
	}
}

// Reload reads the keys from the store and swaps in the new set at once.
// Keys already loaded are not unsealed or parsed again. If the current key
// cannot be loaded the previous set stays in use and Reload fails; a
// published key that cannot be loaded is logged and left out.
func (m *Manager) Reload(ctx context.Context) error {
	select {
	case m.reloadSem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("reload signing keys: %w", ctx.Err())
	}
	defer func() { <-m.reloadSem }()
	keys, err := m.store.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("reload signing keys: %w", err)
	}
	if err := m.load(keys); err != nil {
		return fmt.Errorf("reload signing keys: %w", err)
	}
	return nil
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
