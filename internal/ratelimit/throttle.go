package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/latchauth/latch/internal/store"
)

// Store is the part of store.Store the throttler uses.
type Store interface {
	GetThrottles(ctx context.Context, keys []string) ([]store.Throttle, error)
	UpdateThrottle(ctx context.Context, key string, fn func(*store.Throttle) error) (store.Throttle, error)
	DeleteThrottles(ctx context.Context, keys []string) error
}

// Rule is the delay schedule of one kind of key: Free failures cost
// nothing, then each further failure doubles the wait from Base up to Max.
// Failures are forgotten Window after the last one.
type Rule struct {
	Free   int64
	Base   time.Duration
	Max    time.Duration
	Window time.Duration
}

// delay is the wait after the n-th consecutive failure.
func (r Rule) delay(n int64) time.Duration {
	if n <= r.Free {
		return 0
	}
	d := r.Base
	for i := r.Free + 1; i < n && d < r.Max; i++ {
		d *= 2
	}
	return min(d, r.Max)
}

// Policy holds the rule of each kind of key.
type Policy struct {
	Account Rule // per email, whether or not the account exists
	Address Rule // per client address, across accounts
	Pair    Rule // per email and address together
}

// DefaultPolicy slows guessing down without ever locking an owner out for
// good (delays, not lockout):
//
//   - one address guessing one account is slowed first (Pair: 5 free, then
//     1 s doubling to 1 h);
//   - an account guessed from many addresses next (Account: 10 free, then
//     1 s doubling to 1 h), which holds one account to about 45 failures a
//     day, well under NIST SP 800-63B §5.2.2's 100 consecutive failures;
//   - an address spraying many accounts last (Address: 30 free, then 1 s
//     doubling to 15 min, forgotten after an hour), since many users can
//     share one address behind NAT.
func DefaultPolicy() Policy {
	return Policy{
		Account: Rule{Free: 10, Base: time.Second, Max: time.Hour, Window: 24 * time.Hour},
		Address: Rule{Free: 30, Base: time.Second, Max: 15 * time.Minute, Window: time.Hour},
		Pair:    Rule{Free: 5, Base: time.Second, Max: time.Hour, Window: 24 * time.Hour},
	}
}

// Throttler records failures and tells callers how long to wait.
type Throttler struct {
	store  Store
	policy Policy
	now    func() time.Time
}

// New returns a Throttler.
func New(s Store, p Policy, now func() time.Time) *Throttler {
	if now == nil {
		now = time.Now
	}
	return &Throttler{store: s, policy: p, now: now}
}

type keyRule struct {
	key  string
	rule Rule
}

func (t *Throttler) keys(email, ip string) []keyRule {
	ks := []keyRule{{accountKey(email), t.policy.Account}}
	if ip != "" {
		ks = append(ks, keyRule{"ip:" + ip, t.policy.Address}, keyRule{pairKey(email, ip), t.policy.Pair})
	}
	return ks
}

// Check returns how long the caller must wait before an attempt on email
// from ip; 0 means go ahead.
func (t *Throttler) Check(ctx context.Context, email, ip string) (time.Duration, error) {
	ks := t.keys(email, ip)
	names := make([]string, len(ks))
	for i, k := range ks {
		names[i] = k.key
	}
	rows, err := t.store.GetThrottles(ctx, names)
	if err != nil {
		return 0, fmt.Errorf("throttle check: %w", err)
	}
	now := t.now()
	var wait time.Duration
	for _, r := range rows {
		wait = max(wait, r.BlockedUntil.Sub(now))
	}
	return wait, nil
}

// Fail records a failed attempt. Callers only reach it after Check said
// go ahead, so attempts made during a delay never extend it.
func (t *Throttler) Fail(ctx context.Context, email, ip string) error {
	now := t.now().UTC()
	for _, k := range t.keys(email, ip) {
		_, err := t.store.UpdateThrottle(ctx, k.key, func(th *store.Throttle) error {
			if !th.LastFailureAt.IsZero() && now.Sub(th.LastFailureAt) > k.rule.Window {
				th.Failures = 0
			}
			th.Failures++
			th.LastFailureAt = now
			if d := k.rule.delay(th.Failures); d > 0 {
				th.BlockedUntil = now.Add(d)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("throttle fail: %w", err)
		}
	}
	return nil
}

func accountKey(email string) string  { return "acct:" + email }
func pairKey(email, ip string) string { return "pair:" + email + "|" + ip }

// Succeed forgets the account's failures and those of the account from
// this address. The address's own failures stay: one right password must
// not reset a guesser's count across other accounts.
func (t *Throttler) Succeed(ctx context.Context, email, ip string) error {
	keys := []string{accountKey(email)}
	if ip != "" {
		keys = append(keys, pairKey(email, ip))
	}
	if err := t.store.DeleteThrottles(ctx, keys); err != nil {
		return fmt.Errorf("throttle succeed: %w", err)
	}
	return nil
}

// Unlock clears an account's failures (`latch user unlock`). Per-address
// rows of the account expire on their own within their window.
func (t *Throttler) Unlock(ctx context.Context, email string) error {
	return t.Succeed(ctx, email, "")
}

// Take counts one event for key and reports how long the caller must wait
// when it is over limit: at most limit events are allowed until window
// has passed since the last one counted. A refused event is not counted,
// so asking during the wait never extends it. It shares the throttle
// table, so every instance sees one count and clean-up removes stale
// rows.
func (t *Throttler) Take(ctx context.Context, key string, limit int64, window time.Duration) (time.Duration, error) {
	now := t.now().UTC()
	var wait time.Duration
	_, err := t.store.UpdateThrottle(ctx, "quota:"+key, func(th *store.Throttle) error {
		wait = 0
		if !th.LastFailureAt.IsZero() && now.Sub(th.LastFailureAt) >= window {
			th.Failures = 0
		}
		if th.Failures >= limit {
			wait = th.LastFailureAt.Add(window).Sub(now)
			return errQuotaFull
		}
		th.Failures++
		th.LastFailureAt = now
		return nil
	})
	if errors.Is(err, errQuotaFull) {
		return wait, nil
	}
	if err != nil {
		return 0, fmt.Errorf("quota: %w", err)
	}
	return 0, nil
}

var errQuotaFull = errors.New("quota full")
