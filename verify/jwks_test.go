package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/clocktest"
)

// TestNewRefuses checks the configuration New refuses before trusting any key.
func TestNewRefuses(t *testing.T) {
	k := newKey(t, ES256, "a")
	f := newFakeIssuer(t, k)
	aud := []string{testAudience}
	tests := []struct {
		name        string
		rule        string
		issuer      string
		opts        Options
		discovery   string // issuer named by discovery, when set
		jwks        []json.RawMessage
		unavailable bool // the error wraps ErrUnavailable
	}{
		{name: "no audience", rule: "RFC 9068 §4 (aud must be checked)", opts: Options{}},
		{name: "audience and AnyAudience", rule: "one way to say it", opts: Options{Audience: aud, AnyAudience: true}},
		{name: "empty audience string", rule: "RFC 9068 §4", opts: Options{Audience: []string{""}}},
		{name: "alg none", rule: "RFC 8725 §3.1", opts: Options{Audience: aud, Algorithms: []string{"none"}}},
		{name: "alg HS256", rule: "RFC 8725 §3.1", opts: Options{Audience: aud, Algorithms: []string{"HS256"}}},
		{name: "alg es256 in lower case", rule: "RFC 7518 §3.1 names are case-sensitive", opts: Options{Audience: aud, Algorithms: []string{"es256"}}},
		{name: "empty Algorithms", rule: "nothing could verify", opts: Options{Audience: aud, Algorithms: []string{}}},
		{name: "leeway over MaxLeeway", rule: "RFC 7519 §4.1.4 small leeway", opts: Options{Audience: aud, Leeway: time.Hour}},
		{name: "negative MinRefreshInterval", rule: "rate limit", opts: Options{Audience: aud, MinRefreshInterval: -time.Second}},
		{name: "realm with a quote", rule: "RFC 6750 §3 quoted-string", opts: Options{Audience: aud, Realm: `a"b`}},
		{name: "http issuer off loopback", rule: "RFC 8414 §2 (https)", issuer: "http://auth.example.com", opts: Options{Audience: aud}},
		{name: "issuer not a URL", rule: "RFC 8414 §2", issuer: "auth.example.com", opts: Options{Audience: aud}},
		{name: "issuer with a query", rule: "RFC 8414 §2", issuer: f.url() + "?x=1", opts: Options{Audience: aud}},
		{name: "discovery names another issuer", rule: "RFC 8414 §3.3", discovery: "https://evil.example", opts: Options{Audience: aud}},
		{name: "discovery adds a trailing slash", rule: "RFC 8414 §3.3: identical", discovery: f.url() + "/", opts: Options{Audience: aud}},
		{name: "discovery unreachable", rule: "ErrUnavailable", issuer: "http://127.0.0.1:1", opts: Options{Audience: aud}, unavailable: true},
		{name: "no usable key", rule: "RFC 7517 §5", opts: Options{Audience: aud}, jwks: []json.RawMessage{k.jwkJSON(t, map[string]any{"use": "enc"})}, unavailable: true},
		{name: "only an ES256 key for an RS256 verifier", rule: "RFC 8725 §3.1", opts: Options{Audience: aud, Algorithms: []string{RS256}}, unavailable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.set(func(f *fakeIssuer) { f.issuerName = tt.discovery })
			if tt.jwks != nil {
				f.publishRaw(tt.jwks...)
			} else {
				f.publish(t, k)
			}
			issuer := tt.issuer
			if issuer == "" {
				issuer = f.url()
			}
			v, err := New(context.Background(), issuer, tt.opts)
			if err == nil {
				t.Fatalf("%s: New succeeded, want an error", tt.rule)
			}
			if v != nil {
				t.Errorf("%s: New returned a Verifier with an error", tt.rule)
			}
			if got := errors.Is(err, ErrUnavailable); got != tt.unavailable {
				t.Errorf("%s: New: %v; wraps ErrUnavailable = %v, want %v", tt.rule, err, got, tt.unavailable)
			}
		})
	}
	f.set(func(f *fakeIssuer) { f.issuerName = "" })
}

// TestJWKSKeysSkipped publishes keys that must never verify beside one
// good key: New keeps the good one and skips the rest (RFC 7517 §5).
func TestJWKSKeysSkipped(t *testing.T) {
	good, es, ed, rs := newKey(t, ES256, "good"), newKey(t, ES256, "b"), newKey(t, EdDSA, "b"), newKey(t, "RS256-1024", "b")
	hmacSecret := []byte(strings.Repeat("s", 32))
	f := newFakeIssuer(t)
	f.publishRaw(
		good.jwkJSON(t, nil),
		es.jwkJSON(t, map[string]any{"kid": "use-enc", "use": "enc"}),
		es.jwkJSON(t, map[string]any{"kid": "ops-sign", "key_ops": []string{"sign"}}),
		es.jwkJSON(t, map[string]any{"kid": "no-alg", "alg": nil}),
		es.jwkJSON(t, map[string]any{"kid": "alg-RS256", "alg": RS256}),
		ed.jwkJSON(t, map[string]any{"kid": "okp-as-es256", "alg": ES256}),
		es.jwkJSON(t, map[string]any{"kid": "es-as-eddsa", "alg": EdDSA}),
		rs.jwkJSON(t, map[string]any{"kid": "rsa-1024"}),
		es.jwkJSON(t, map[string]any{"kid": strings.Repeat("k", maxKidLength+1)}),
		es.jwkJSON(t, map[string]any{"kid": nil}),
		json.RawMessage(`{"kty":"oct","kid":"hmac","alg":"HS256","k":"`+b64url(string(hmacSecret))+`"}`),
		json.RawMessage(`{"kty":"oct","kid":"oct-es256","alg":"ES256","k":"`+b64url(string(hmacSecret))+`"}`),
		json.RawMessage(`{"kty":"EC","kid":"private","alg":"ES256","crv":"P-256","x":"`+ecX(t, es)+`","y":"`+ecY(t, es)+`","d":"`+ecD(t, es)+`"}`),
		json.RawMessage(`{"kty":"EC","kid":"off-curve","alg":"ES256","crv":"P-256","x":"`+ecX(t, es)+`","y":"`+ecX(t, es)+`"}`),
		json.RawMessage(`{"kty":"XYZ","kid":"future","alg":"ES256"}`),
		json.RawMessage(`"not an object"`),
		good.jwkJSON(t, map[string]any{"kid": good.kid, "alg": RS256}), // a second entry for the good kid
	)
	v := startVerifier(t, f, clocktest.New(t0), nil)
	keys := v.keys.Load().keys
	if len(keys) != 1 || keys[good.kid] == nil {
		names := make([]string, 0, len(keys))
		for kid := range keys {
			names = append(names, kid)
		}
		t.Fatalf("keys: got %q, want only %q", names, good.kid)
	}
	checkReason(t, verifyErr(v, good.sign(t, f.claims(nil), nil)), "")
	for _, kid := range []string{"use-enc", "ops-sign", "no-alg", "alg-RS256", "private", "off-curve"} {
		checkReason(t, verifyErr(v, withKid(es, kid).sign(t, f.claims(nil), nil)), reasonUnknownKey)
	}
	checkReason(t, verifyErr(v, withKid(rs, "rsa-1024").sign(t, f.claims(nil), nil)), reasonUnknownKey)
	checkReason(t, verifyErr(v, withKid(ed, "okp-as-es256").sign(t, f.claims(nil), nil)), reasonUnknownKey)
	// RFC 8725 §2.1: even with a JWK that is an HMAC key, HS256 is refused.
	checkReason(t, verifyErr(v, hmacToken(t, hmacSecret, "hmac", f.claims(nil))), reasonAlgorithm)
}

func withKid(k *testKey, kid string) *testKey {
	c := *k
	c.kid = kid
	return &c
}

func jwkField(t *testing.T, k *testKey, name string) string {
	t.Helper()
	priv := k.jwk()
	priv.Key = k.priv
	raw, err := json.Marshal(priv)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m[name].(string)
}

func ecX(t *testing.T, k *testKey) string { return jwkField(t, k, "x") }
func ecY(t *testing.T, k *testKey) string { return jwkField(t, k, "y") }
func ecD(t *testing.T, k *testKey) string { return jwkField(t, k, "d") }

// TestRotation: a Verifier that fetched the JWKS before a rotation meets
// tokens of a key it has never seen; the unknown kid makes it fetch
// again, once, and no verification fails (RFC 7517 §5, RFC 8725 §3.10:
// keys still come only from the issuer).
func TestRotation(t *testing.T) {
	oldKey, newK := newKey(t, ES256, "old"), newKey(t, ES256, "new")
	f := newFakeIssuer(t, oldKey)
	// Slow the refetch down so that many verifications wait on it.
	block := make(chan struct{})
	v := startVerifier(t, f, clocktest.New(t0), nil)
	f.publish(t, newK, oldKey)
	f.set(func(f *fakeIssuer) { f.jwksBlock = block })

	tokens := []string{newK.sign(t, f.claims(nil), nil), oldKey.sign(t, f.claims(nil), nil)}
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for i := range 400 {
		wg.Go(func() {
			if _, err := v.Verify(context.Background(), tokens[i%2]); err != nil {
				errs <- err
			}
		})
	}
	time.Sleep(20 * time.Millisecond)
	close(block)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Verify after rotation: %v", err)
	}
	if got := f.jwksFetches.Load(); got != 2 {
		t.Errorf("JWKS fetches: got %d, want 2 (New, then one for the new kid)", got)
	}
}

// TestUnknownKidRateLimit: tokens with made-up kids cannot make the
// Verifier hammer the issuer (RFC 8725 §3.10 keeps keys at the issuer;
// this bounds what asking it costs): 1,000 of them, concurrent or not,
// cause one fetch per MinRefreshInterval.
func TestUnknownKidRateLimit(t *testing.T) {
	k := newKey(t, ES256, "a")
	evil := newKey(t, ES256, "junk")
	f := newFakeIssuer(t, k)
	clk := clocktest.New(t0)
	v := startVerifier(t, f, clk, nil)

	var wg sync.WaitGroup
	for i := range 1000 {
		tok := withKid(evil, fmt.Sprintf("junk-%d", i)).sign(t, f.claims(nil), nil)
		wg.Go(func() {
			checkReasonAsync(t, verifyErr(v, tok), reasonUnknownKey)
		})
	}
	wg.Wait()
	if got := f.jwksFetches.Load(); got != 2 {
		t.Errorf("JWKS fetches after 1,000 junk kids: got %d, want 2 (New and one refetch)", got)
	}
	// Good tokens are not held up meanwhile.
	checkReason(t, verifyErr(v, k.sign(t, f.claims(nil), nil)), "")

	clk.Advance(DefaultMinRefreshInterval - time.Second)
	checkReason(t, verifyErr(v, withKid(evil, "junk-x").sign(t, f.claims(nil), nil)), reasonUnknownKey)
	if got := f.jwksFetches.Load(); got != 2 {
		t.Errorf("JWKS fetches within MinRefreshInterval: got %d, want 2", got)
	}
	clk.Advance(time.Second)
	checkReason(t, verifyErr(v, withKid(evil, "junk-y").sign(t, f.claims(nil), nil)), reasonUnknownKey)
	if got := f.jwksFetches.Load(); got != 3 {
		t.Errorf("JWKS fetches after MinRefreshInterval: got %d, want 3", got)
	}
}

// checkReasonAsync is checkReason for goroutines: it reports with Errorf.
func checkReasonAsync(t *testing.T, err error, reason string) {
	if !errIsReason(err, reason) {
		t.Errorf("Verify: got %v, want reason %q", err, reason)
	}
}

// TestMaxAgeRefresh: the JWKS is fetched again when its Cache-Control
// max-age (RFC 9111 §5.2.2.1) runs out, in the background, and a key
// that left the JWKS stops verifying.
func TestMaxAgeRefresh(t *testing.T) {
	a, b := newKey(t, ES256, "a"), newKey(t, ES256, "b")
	f := newFakeIssuer(t, a, b)
	f.set(func(f *fakeIssuer) { f.cacheControl = "public, max-age=120" })
	clk := clocktest.New(t0)
	v := startVerifier(t, f, clk, func(o *Options) { o.Leeway = MaxLeeway })
	tokA, tokB := a.sign(t, f.claims(map[string]any{"exp": t0.Add(time.Hour).Unix()}), nil), b.sign(t, f.claims(map[string]any{"exp": t0.Add(time.Hour).Unix()}), nil)
	f.publish(t, a) // b retired

	clk.Advance(119 * time.Second)
	checkReason(t, verifyErr(v, tokB), "")
	if got := f.jwksFetches.Load(); got != 1 {
		t.Fatalf("JWKS fetches before max-age: got %d, want 1", got)
	}
	clk.Advance(2 * time.Second)
	// The Verify that notices the expiry still uses the cached keys.
	checkReason(t, verifyErr(v, tokB), "")
	waitFetches(t, f, v, 2)
	checkReason(t, verifyErr(v, tokA), "")
	checkReason(t, verifyErr(v, tokB), reasonUnknownKey)
}

// TestFailingJWKS: while the JWKS endpoint fails, the keys fetched before
// keep working, refreshes are retried once per MinRefreshInterval, and an
// unknown kid is "unavailable", not "invalid", since it may be a new key.
func TestFailingJWKS(t *testing.T) {
	a, b := newKey(t, ES256, "a"), newKey(t, ES256, "b")
	f := newFakeIssuer(t, a)
	clk := clocktest.New(t0)
	v := startVerifier(t, f, clk, func(o *Options) { o.Leeway = MaxLeeway })
	tokA := a.sign(t, f.claims(nil), nil)
	f.set(func(f *fakeIssuer) { f.jwksStatus = http.StatusInternalServerError })

	clk.Advance(5*time.Minute + time.Second) // past max-age=300
	for range 100 {
		checkReason(t, verifyErr(v, tokA), "")
	}
	waitFetches(t, f, v, 2)
	for range 100 {
		checkReason(t, verifyErr(v, tokA), "")
	}
	if got := f.jwksFetches.Load(); got != 2 {
		t.Errorf("JWKS fetches while failing: got %d, want 2 (New and one retry)", got)
	}

	tokB := b.sign(t, f.claims(nil), nil)
	_, err := v.Verify(context.Background(), tokB)
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrInvalidToken) {
		t.Errorf("unknown kid while the JWKS fails: got %v, want ErrUnavailable only", err)
	}

	// Recovery: the issuer is back with b published.
	f.set(func(f *fakeIssuer) { f.jwksStatus = 0 })
	f.publish(t, a, b)
	clk.Advance(DefaultMinRefreshInterval)
	checkReason(t, verifyErr(v, tokA), "")
	waitFetches(t, f, v, 3)
	checkReason(t, verifyErr(v, tokB), "")
}

// TestVerifyContextCanceled: a Verify waiting for a slow fetch returns
// when its ctx ends, with ErrUnavailable.
func TestVerifyContextCanceled(t *testing.T) {
	a, b := newKey(t, ES256, "a"), newKey(t, ES256, "b")
	f := newFakeIssuer(t, a)
	v := startVerifier(t, f, clocktest.New(t0), nil)
	block := make(chan struct{})
	f.set(func(f *fakeIssuer) { f.jwksBlock = block })
	defer close(block)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := v.Verify(ctx, b.sign(t, f.claims(nil), nil))
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Verify with a canceled ctx: got %v, want ErrUnavailable and DeadlineExceeded", err)
	}
}

func TestCacheAge(t *testing.T) {
	tests := []struct {
		header []string
		want   time.Duration
	}{
		{nil, defaultCacheAge},
		{[]string{"public, max-age=300"}, 5 * time.Minute},
		{[]string{"max-age=3600"}, time.Hour},
		{[]string{"Max-Age=600, public"}, 10 * time.Minute},
		{[]string{`max-age="600"`}, 10 * time.Minute},
		{[]string{"max-age=0"}, minCacheAge},
		{[]string{"max-age=5"}, minCacheAge},
		{[]string{"max-age=9999999999999"}, maxCacheAge},
		{[]string{"max-age=-5"}, defaultCacheAge},
		{[]string{"max-age=abc"}, defaultCacheAge},
		{[]string{"no-store"}, minCacheAge},
		{[]string{"max-age=600", "no-cache"}, minCacheAge},
		{[]string{"s-maxage=600"}, defaultCacheAge},
	}
	for _, tt := range tests {
		h := http.Header{"Cache-Control": tt.header}
		if got := cacheAge(h); got != tt.want {
			t.Errorf("cacheAge(%q) = %s, want %s", tt.header, got, tt.want)
		}
	}
}
