package config

import (
	"fmt"
	"math"
	"net"
)

// Warning is a setting that latch accepts but that is probably a
// mistake; serve logs each one at start.
type Warning struct {
	Event   string // the log event, e.g. "config.public_url.http"
	Message string // what is wrong and what to do; never holds a secret
}

// MinKeyBits is the least a key should carry by weakKey's estimate
// (length × log2 of the alphabet its character classes span), in bits.
const MinKeyBits = 128

// Warnings lists the footguns of c: settings that start but weaken latch.
func (c Config) Warnings() []Warning {
	var w []Warning
	add := func(event, msg string) { w = append(w, Warning{Event: event, Message: msg}) }
	if u := c.HTTP.public; u != nil {
		if u.Scheme == "http" && !loopbackHost(u.Hostname()) {
			add("config.public_url.http", "LATCH_PUBLIC_URL is plain http:// on a host that is not loopback: tokens, passwords and the links in messages travel in clear; use https:// (TLS here or at a proxy)")
		}
		if u.User != nil {
			add("config.public_url.credentials", "LATCH_PUBLIC_URL holds credentials (user:password@): they end up in every token's iss and every link latch mails; remove them")
		}
	}
	for _, p := range c.HTTP.TrustedProxies {
		if p.Bits() == 0 {
			add("config.trusted_proxies.everyone", fmt.Sprintf("LATCH_TRUSTED_PROXIES holds %s, which trusts every address as a proxy: any client names its own address in %s and walks past the per-address limits; list only your proxies' addresses", p, c.HTTP.ClientIPHeader))
			break
		}
	}
	if weakKey(string(c.Ops.AdminKey)) {
		add("config.admin_key.weak", "LATCH_ADMIN_KEY does not look random (a repeated pattern, few distinct characters, or too short for its alphabet); use a random one, e.g. `openssl rand -base64 32`")
	}
	if weakKey(string(c.Tokens.SecretKey)) {
		add("config.secret_key.weak", "LATCH_SECRET_KEY does not look random (a repeated pattern, few distinct characters, or too short for its alphabet); it encrypts the signing keys: use a random one, e.g. `openssl rand -base64 32` (changing it needs new signing keys)")
	}
	if c.Ops.MetricsAddr != "" {
		if host, _, err := net.SplitHostPort(c.Ops.MetricsAddr); err == nil && !loopbackHost(host) {
			add("config.metrics_addr.public", "LATCH_METRICS_ADDR is not a loopback address: the metrics carry no authentication; keep the port firewalled to your Prometheus")
		}
	}
	return w
}

// weakKey reports whether a configured key is set and was evidently not
// drawn at random: it repeats a shorter string ("abab…", "passw0rdpassw0rd…"),
// it has fewer than 8 distinct characters, or its length times log2 of
// the alphabet its character classes span (lower case 26, upper case 26,
// digits 10, other ASCII 33, anything else 100) is under MinKeyBits. A
// random key from `openssl rand -base64 32` or `-hex 16` passes; 32
// decimal digits (106 bits) do not.
func weakKey(k string) bool {
	if k == "" {
		return false
	}
	r := []rune(k)
	for p := 1; p <= len(r)/2; p++ {
		periodic := true
		for i := p; i < len(r) && periodic; i++ {
			periodic = r[i] == r[i-p]
		}
		if periodic {
			return true
		}
	}
	distinct := map[rune]bool{}
	var lower, upper, digit, other, wide bool
	for _, c := range r {
		distinct[c] = true
		switch {
		case 'a' <= c && c <= 'z':
			lower = true
		case 'A' <= c && c <= 'Z':
			upper = true
		case '0' <= c && c <= '9':
			digit = true
		case c < 0x80:
			other = true
		default:
			wide = true
		}
	}
	alphabet := 0
	for _, class := range []struct {
		present bool
		size    int
	}{{lower, 26}, {upper, 26}, {digit, 10}, {other, 33}, {wide, 100}} {
		if class.present {
			alphabet += class.size
		}
	}
	return len(distinct) < 8 || float64(len(r))*math.Log2(float64(alphabet)) < MinKeyBits
}
