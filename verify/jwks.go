package verify

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejson "github.com/go-jose/go-jose/v4/json"
)

const (
	// minCacheAge and maxCacheAge bound the JWKS max-age: latch
	// publishes a key before it signs with it and keeps it after, so a
	// short lifetime only costs fetches, and a bound keeps a misconfigured
	// Cache-Control from freezing or flooding the cache.
	minCacheAge = time.Minute
	maxCacheAge = 24 * time.Hour
	// defaultCacheAge applies when the JWKS response says nothing; it is
	// what latch sends.
	defaultCacheAge = 5 * time.Minute
	// fetchTimeout bounds a fetch even with an HTTPClient that has no
	// timeout, since verifications may be waiting for it.
	fetchTimeout = 30 * time.Second
	// maxDocumentSize bounds discovery and JWKS responses.
	maxDocumentSize = 1 << 20
	// maxKeys bounds a JWKS; latch publishes three keys at most.
	maxKeys = 100
	// maxKidLength bounds key ids. latch's are 43 characters; a longer
	// kid in a token cannot be a key, so it never causes a fetch.
	maxKidLength = 256
	// minRSABits is the smallest RSA modulus accepted (RFC 7518 §3.3).
	minRSABits = 2048
)

// keySet is one fetched JWKS, never modified once published.
type keySet struct {
	keys    map[string]*key
	expires time.Time // when max-age runs out and a refresh is due
}

// fetchKeys fetches and parses the JWKS.
func (v *Verifier) fetchKeys(ctx context.Context) (*keySet, error) {
	body, hdr, err := v.get(ctx, v.jwksURI, "application/jwk-set+json, application/json")
	if err != nil {
		return nil, err
	}
	keys, err := v.parseJWKS(body)
	if err != nil {
		return nil, fmt.Errorf("JWKS %s: %w", v.jwksURI, err)
	}
	return &keySet{keys: keys, expires: v.now().Add(cacheAge(hdr))}, nil
}

// get fetches url and returns its body, refusing anything but a 200.
func (v *Verifier) get(ctx context.Context, url, accept string) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", accept)
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if len(body) > maxDocumentSize {
		return nil, nil, fmt.Errorf("GET %s: response larger than %d bytes", url, maxDocumentSize)
	}
	return body, resp.Header, nil
}

// cacheAge reads max-age from Cache-Control (RFC 9111 §5.2.2.1), bounded
// to [minCacheAge, maxCacheAge]. no-store and no-cache ask for the
// shortest life.
func cacheAge(h http.Header) time.Duration {
	age := defaultCacheAge
	for _, line := range h.Values("Cache-Control") {
		for d := range strings.SplitSeq(line, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(name) {
			case "no-store", "no-cache":
				return minCacheAge
			case "max-age":
				if n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64); err == nil && n >= 0 {
					age = time.Duration(min(n, int64(maxCacheAge/time.Second))) * time.Second
				}
			}
		}
	}
	return min(max(age, minCacheAge), maxCacheAge)
}

// parseJWKS reads a JWK Set (RFC 7517 §5) and keeps the keys this
// Verifier may use. Any key it cannot use is skipped, as §5 asks, so that
// a key of a type latch adds later cannot break verification; it is an
// error only when no key is left.
func (v *Verifier) parseJWKS(body []byte) (map[string]*key, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("not a JWK Set: %w", err)
	}
	if len(set.Keys) > maxKeys {
		return nil, fmt.Errorf("%d keys, more than %d", len(set.Keys), maxKeys)
	}
	keys := make(map[string]*key, len(set.Keys))
	var skipped []string
	for i, raw := range set.Keys {
		kid, k, err := v.parseJWK(raw)
		if err == nil && keys[kid] != nil {
			err = errors.New("kid used twice")
		}
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("key %d (kid %.64q): %v", i, kid, err))
			continue
		}
		keys[kid] = k
	}
	if len(skipped) > 0 {
		v.log.Debug("verify: JWKS keys skipped", "jwks_uri", v.jwksURI, "skipped", skipped)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no usable key among %d (accepted algorithms %v; skipped: %s)", len(set.Keys), v.algs, strings.Join(skipped, "; "))
	}
	return keys, nil
}

// parseJWK reads one JWK. It needs a kid (keys are found by kid only), an
// alg this Verifier accepts (the alg binds the key, RFC 8725 §3.1), no
// use other than sig and no key_ops without verify (RFC 7517 §4.2-4.3),
// and a public key of the type and size that alg demands. A JWK holding
// private or symmetric key material is refused: a JWKS should never
// carry either, and a verifier never needs one.
func (v *Verifier) parseJWK(raw json.RawMessage) (string, *key, error) {
	var meta struct {
		Kid    string   `json:"kid"`
		Alg    string   `json:"alg"`
		Use    string   `json:"use"`
		KeyOps []string `json:"key_ops"`
		Kty    string   `json:"kty"`
	}
	// go-jose's JSON reads names case-sensitively and refuses duplicates,
	// so that meta sees the same JWK as jwk.UnmarshalJSON below.
	if err := josejson.Unmarshal(raw, &meta); err != nil {
		return "", nil, err
	}
	switch {
	case meta.Kid == "" || len(meta.Kid) > maxKidLength:
		return meta.Kid, nil, fmt.Errorf("kid must have 1 to %d bytes", maxKidLength)
	case !slices.Contains(v.algs, meta.Alg):
		return meta.Kid, nil, fmt.Errorf("alg %.16q not accepted", meta.Alg)
	case meta.Use != "" && meta.Use != "sig":
		return meta.Kid, nil, fmt.Errorf("use %.16q", meta.Use)
	case meta.KeyOps != nil && !slices.Contains(meta.KeyOps, "verify"):
		return meta.Kid, nil, errors.New("key_ops without verify")
	case meta.Kty == "oct":
		return meta.Kid, nil, errors.New("symmetric key")
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		return meta.Kid, nil, err
	}
	if !jwk.IsPublic() {
		return meta.Kid, nil, errors.New("holds private key material")
	}
	k := &key{alg: meta.Alg}
	switch pub := jwk.Key.(type) {
	case *ecdsa.PublicKey:
		if meta.Alg == ES256 && pub.Curve == elliptic.P256() {
			k.ec = pub
			return meta.Kid, k, nil
		}
	case ed25519.PublicKey:
		if meta.Alg == EdDSA {
			k.ed = pub
			return meta.Kid, k, nil
		}
	case *rsa.PublicKey:
		if meta.Alg == RS256 {
			if pub.N.BitLen() < minRSABits {
				return meta.Kid, nil, fmt.Errorf("RSA key of %d bits, fewer than %d", pub.N.BitLen(), minRSABits)
			}
			k.rsa = pub
			return meta.Kid, k, nil
		}
	}
	return meta.Kid, nil, fmt.Errorf("%T key does not fit alg %s", jwk.Key, meta.Alg)
}

// refreshIfStale starts a background fetch when the key set's max-age has
// run out. Verifications go on with the keys they have meanwhile, so a
// slow issuer delays none of them.
func (v *Verifier) refreshIfStale(now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.flight == nil && now.After(v.keys.Load().expires) && !now.Before(v.retryAt) {
		v.startFetchLocked()
	}
}

// keyFor returns the key named kid. A kid that is not in the key set
// causes one fetch, shared by every verification that waits for it, and
// no more than one per MinRefreshInterval, so that tokens with made-up
// kids cannot make the Verifier hammer the issuer.
func (v *Verifier) keyFor(ctx context.Context, kid string) (*key, error) {
	if k := v.keys.Load().keys[kid]; k != nil {
		return k, nil
	}
	if kid == "" || len(kid) > maxKidLength {
		return nil, invalid(reasonUnknownKey, "kid %.64q", kid)
	}
	v.mu.Lock()
	// A fetch may have finished since the lookup above.
	if k := v.keys.Load().keys[kid]; k != nil {
		v.mu.Unlock()
		return k, nil
	}
	wait := v.flight
	if now := v.now(); wait == nil && (v.lastKidFetch.IsZero() || now.Sub(v.lastKidFetch) >= v.minRefresh) {
		v.lastKidFetch = now
		wait = v.startFetchLocked()
	}
	v.mu.Unlock()
	if wait != nil {
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: waiting for the issuer's keys: %w", ErrUnavailable, ctx.Err())
		}
	}
	if k := v.keys.Load().keys[kid]; k != nil {
		return k, nil
	}
	v.mu.Lock()
	fetchErr := v.fetchErr
	v.mu.Unlock()
	if fetchErr != nil {
		// The token may be signed by a key published since the last
		// successful fetch: say "try again", not "invalid".
		return nil, fmt.Errorf("%w: kid %.64q is unknown and the issuer's keys cannot be fetched: %w", ErrUnavailable, kid, fetchErr)
	}
	return nil, invalid(reasonUnknownKey, "kid %.64q", kid)
}

// startFetchLocked starts fetching the key set and returns a channel that
// is closed when the fetch is over. v.mu must be held and no fetch
// running. The fetch outlives the request that started it, because
// others may be waiting for it.
func (v *Verifier) startFetchLocked() chan struct{} {
	done := make(chan struct{})
	v.flight = done
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
		set, err := v.fetchKeys(ctx)
		cancel()
		v.mu.Lock()
		v.fetchErr = err
		if err != nil {
			v.retryAt = v.now().Add(v.minRefresh)
		} else {
			v.keys.Store(set)
		}
		v.flight = nil
		v.mu.Unlock()
		close(done)
		if err != nil {
			v.log.Warn("verify: refreshing the issuer's keys failed; still using the keys fetched before", "jwks_uri", v.jwksURI, "err", err)
		}
	}()
	return done
}
