package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/latchauth/latch/internal/store"
)

// Store is the part of store.Store the throttler uses.
type Store interface {
	UpdateThrottles(ctx context.Context, keys []string, fn func([]store.Throttle) error) ([]store.Throttle, error)
	UpdateThrottle(ctx context.Context, key string, fn func(*store.Throttle) error) (store.Throttle, error)
	DeleteThrottles(ctx context.Context, keys []string) error
	DeleteThrottlesBefore(ctx context.Context, t time.Time) (int64, error)
}

// memory is the longest window any rule remembers failures for, with an
// hour to spare; older rows carry no information.
const memory = 25 * time.Hour

// Cleanup removes the counters that no rule remembers any more (and the
// quota and code counters with them), so the table does not grow without
// bound, and returns how many it removed.
func (t *Throttler) Cleanup(ctx context.Context) (int64, error) {
	n, err := t.store.DeleteThrottlesBefore(ctx, t.now().UTC().Add(-memory))
	if err != nil {
		return n, fmt.Errorf("clean up throttles: %w", err)
	}
	return n, nil
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
	// Device is per device token: a client that completed a sign-in
	// before meets this instead of the account-wide rule.
	Device Rule
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
//     share one address behind NAT;
//   - a device that signed in before has its own count instead of the
//     account's (Device: 5 free, then 1 s doubling to 1 h), so failures
//     from elsewhere never keep its owner out.
func DefaultPolicy() Policy {
	return Policy{
		Account: Rule{Free: 10, Base: time.Second, Max: time.Hour, Window: 24 * time.Hour},
		Address: Rule{Free: 30, Base: time.Second, Max: 15 * time.Minute, Window: time.Hour},
		Pair:    Rule{Free: 5, Base: time.Second, Max: time.Hour, Window: 24 * time.Hour},
		Device:  Rule{Free: 5, Base: time.Second, Max: time.Hour, Window: 24 * time.Hour},
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

// Attempt is one try of a credential: on the account Email (normalised,
// whether or not it exists), from the client address IP ("" when the
// caller has none), and from Device, the id in a valid device token that
// the client presented for this account ("" for none).
type Attempt struct {
	Email, IP, Device string
}

type keyRule struct {
	key  string
	rule Rule
	// shared: the counter spans other accounts (the address's), so a
	// success gives back only its own reservation.
	shared bool
}

// keys are the counters an attempt meets: the account's, or the device's
// for a client that proved itself before (it skips the account-wide
// delay, OWASP's device-cookie scheme); and the address's and the pair's.
func (t *Throttler) keys(a Attempt) []keyRule {
	var ks []keyRule
	if a.Device != "" {
		ks = append(ks, keyRule{deviceKey(a.Device), t.policy.Device, false})
	} else {
		ks = append(ks, keyRule{accountKey(a.Email), t.policy.Account, false})
	}
	if a.IP != "" {
		ks = append(ks, keyRule{addressKey(a.IP), t.policy.Address, true}, keyRule{pairKey(a.Email, a.IP), t.policy.Pair, false})
	}
	return ks
}

func names(ks []keyRule) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.key
	}
	return out
}

// Reserve asks to try a credential. If any of the attempt's counters is
// in a delay it returns how long to wait and counts nothing, so attempts
// made during a delay never extend it. Otherwise it counts the attempt as
// a failure on every counter before the caller checks anything, in one
// transaction over all of them: a burst of concurrent attempts gets no
// more checks than the same attempts made one after another, on any
// number of instances. The caller calls Succeed when the credential was
// right.
func (t *Throttler) Reserve(ctx context.Context, a Attempt) (time.Duration, error) {
	ks := t.keys(a)
	now := t.now().UTC()
	var wait time.Duration
	_, err := t.store.UpdateThrottles(ctx, names(ks), func(rows []store.Throttle) error {
		wait = 0
		for _, r := range rows {
			wait = max(wait, r.BlockedUntil.Sub(now))
		}
		if wait > 0 {
			return errWait
		}
		for i := range rows {
			th, rule := &rows[i], ks[i].rule
			if !th.LastFailureAt.IsZero() && now.Sub(th.LastFailureAt) > rule.Window {
				th.Failures = 0
			}
			th.Failures++
			th.LastFailureAt = now
			if d := rule.delay(th.Failures); d > 0 {
				th.BlockedUntil = now.Add(d)
			}
		}
		return nil
	})
	return waitOr(wait, err, "throttle reserve")
}

// errWait, returned from inside a throttle update, refuses the event: the
// store rolls the update back, so that nothing is counted, and the caller
// is told to wait.
var errWait = errors.New("refused: wait")

// waitOr is what Reserve and Take return after their update: the wait
// when the update refused the event with errWait, err wrapped with op
// when the store failed, and no wait otherwise.
func waitOr(wait time.Duration, err error, op string) (time.Duration, error) {
	if errors.Is(err, errWait) {
		return wait, nil
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	return 0, nil
}

// AddressKey is the client as latch counts it: an IPv4 address as it is,
// an IPv6 address as its /64 ("2001:db8:1:2::/64"). A /64 is the smallest
// network a subscriber gets (RFC 6177) and its host half is the client's
// to choose (privacy addresses rotate in it, RFC 8981), so keying on the
// full /128 would let one client rotate past every per-address limit.
// The login throttle and the per-address buckets count by it; sessions
// and the audit trail keep the full address. Anything that is not an IP
// address is returned as is.
func AddressKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil || !a.Is6() || a.Is4In6() {
		return addr
	}
	return netip.PrefixFrom(a.WithZone(""), 64).Masked().String()
}

func accountKey(email string) string  { return "acct:" + email }
func addressKey(ip string) string     { return "ip:" + AddressKey(ip) }
func deviceKey(id string) string      { return "dev:" + id }
func pairKey(email, ip string) string { return "pair:" + email + "|" + AddressKey(ip) }

// Succeed settles a reserved attempt whose credential was right: the
// counters of the account (or the device) and of the pair are forgotten,
// and the address gets its reservation back, but not its other failures:
// one right password must not reset a guesser's count across other
// accounts. A device's success leaves the account's count alone: the
// owner signing in from a known device says nothing about the guesses
// made elsewhere.
func (t *Throttler) Succeed(ctx context.Context, a Attempt) error {
	ks := t.keys(a)
	_, err := t.store.UpdateThrottles(ctx, names(ks), func(rows []store.Throttle) error {
		for i := range rows {
			th, rule := &rows[i], ks[i].rule
			if !ks[i].shared || th.Failures <= 1 {
				*th = store.Throttle{Key: th.Key}
				continue
			}
			th.Failures--
			if rule.delay(th.Failures) == 0 {
				th.BlockedUntil = time.Time{}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("throttle succeed: %w", err)
	}
	return nil
}

// Unlock clears an account's failures (`latch user unlock`). Per-address
// rows of the account expire on their own within their window.
func (t *Throttler) Unlock(ctx context.Context, email string) error {
	if err := t.store.DeleteThrottles(ctx, []string{accountKey(email)}); err != nil {
		return fmt.Errorf("throttle unlock: %w", err)
	}
	return nil
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
			return errWait
		}
		th.Failures++
		th.LastFailureAt = now
		return nil
	})
	return waitOr(wait, err, "quota")
}
