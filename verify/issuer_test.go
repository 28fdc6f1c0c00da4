package verify

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/latchauth/latch/internal/clocktest"
	"github.com/latchauth/latch/internal/jwstest"
)

// t0 is the tests' fixed "now", a whole second as NumericDates are.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// testKey is a signing key pair with the JWK that publishes its public half.
type testKey struct {
	kid  string
	alg  string
	priv crypto.Signer
}

// Keys are costly to make (RSA above all), so tests share them.
var (
	keyCache   = map[string]*testKey{}
	keyCacheMu sync.Mutex
)

// newKey returns a key for alg, the same one for the same name.
func newKey(t testing.TB, alg, name string) *testKey {
	t.Helper()
	keyCacheMu.Lock()
	defer keyCacheMu.Unlock()
	if k := keyCache[alg+"/"+name]; k != nil {
		return k
	}
	var priv crypto.Signer
	var err error
	switch alg {
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "RS256-1024":
		alg = RS256
		priv, err = rsa.GenerateKey(rand.Reader, 1024)
	default:
		t.Fatalf("newKey: unknown alg %q", alg)
	}
	if err != nil {
		t.Fatalf("newKey: %v", err)
	}
	k := &testKey{kid: name + "-" + alg, alg: alg, priv: priv}
	keyCache[alg+"/"+name] = k
	return k
}

// jwk is the key's public JWK as latch publishes it.
func (k *testKey) jwk() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: k.alg, Use: "sig"}
}

// jwkJSON is jwk as a JSON object, with fields changed or removed (nil).
func (k *testKey) jwkJSON(t testing.TB, edits map[string]any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(k.jwk())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for name, v := range edits {
		if v == nil {
			delete(m, name)
		} else {
			m[name] = v
		}
	}
	b, err = json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sign signs claims with go-jose: header alg and kid of k, typ at+jwt,
// then the extra headers (a nil value leaves a header out).
func (k *testKey) sign(t testing.TB, claims any, headers map[string]any) string {
	t.Helper()
	opts := &jose.SignerOptions{}
	opts.WithHeader("kid", k.kid).WithType("at+jwt")
	for name, v := range headers {
		if v == nil {
			delete(opts.ExtraHeaders, jose.HeaderKey(name))
		} else {
			opts.WithHeader(jose.HeaderKey(name), v)
		}
	}
	return signWith(t, jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.alg), Key: k.priv}, opts, claims)
}

func signWith(t testing.TB, key jose.SigningKey, opts *jose.SignerOptions, claims any) string {
	t.Helper()
	signer, err := jose.NewSigner(key, opts)
	if err != nil {
		t.Fatalf("NewSigner: %v", err)
	}
	payload, ok := claims.([]byte)
	if !ok {
		if payload, err = json.Marshal(claims); err != nil {
			t.Fatal(err)
		}
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// signRaw signs exactly the header and payload JSON given, which go-jose
// would not write (duplicate names, odd spacing), with k's private key.
func (k *testKey) signRaw(t testing.TB, header, payload string) string {
	t.Helper()
	return jwstest.Compact([]byte(header), []byte(payload), func(input []byte) []byte {
		sig, err := jwstest.Sign(k.priv, input)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	})
}

func hashSHA256(b []byte) []byte {
	h := crypto.SHA256.New()
	h.Write(b)
	return h.Sum(nil)
}

func b64url(s string) string { return jwstest.Encode([]byte(s)) }

// fakeIssuer serves discovery and a JWKS on httptest, the way latch does.
type fakeIssuer struct {
	srv *httptest.Server

	mu           sync.Mutex
	keys         []json.RawMessage
	issuerName   string // issuer in discovery; srv.URL unless set
	jwksStatus   int    // answer the JWKS with this status when not 0
	cacheControl string
	jwksBlock    chan struct{} // when set, JWKS requests wait for it to close

	jwksFetches atomic.Int64
}

func newFakeIssuer(t testing.TB, keys ...*testKey) *fakeIssuer {
	t.Helper()
	f := &fakeIssuer{cacheControl: "public, max-age=300"}
	f.publish(t, keys...)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		name := f.issuerName
		f.mu.Unlock()
		if name == "" {
			name = f.srv.URL
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":   name,
			"jwks_uri": f.srv.URL + "/.well-known/jwks.json",
		})
	})
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		f.jwksFetches.Add(1)
		f.mu.Lock()
		keys, status, cc, block := f.keys, f.jwksStatus, f.cacheControl, f.jwksBlock
		f.mu.Unlock()
		if block != nil {
			<-block
		}
		if status != 0 {
			http.Error(w, "down", status)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// publish replaces the JWKS with the keys' JWKs.
func (f *fakeIssuer) publish(t testing.TB, keys ...*testKey) {
	t.Helper()
	raws := make([]json.RawMessage, len(keys))
	for i, k := range keys {
		raws[i] = k.jwkJSON(t, nil)
	}
	f.publishRaw(raws...)
}

// publishRaw replaces the JWKS with these JWKs as they are.
func (f *fakeIssuer) publishRaw(keys ...json.RawMessage) {
	f.mu.Lock()
	f.keys = keys
	f.mu.Unlock()
}

func (f *fakeIssuer) set(fn func(f *fakeIssuer)) {
	f.mu.Lock()
	fn(f)
	f.mu.Unlock()
}

// url is the issuer URL.
func (f *fakeIssuer) url() string { return f.srv.URL }

// claims are the claims latch puts in an access token issued at t0,
// with edits applied (a nil value removes the claim).
func (f *fakeIssuer) claims(edits map[string]any) map[string]any {
	c := map[string]any{
		"iss":            f.url(),
		"sub":            "0b5e1f0e-8a43-4b69-9c3a-2f6f2f9c6d11",
		"aud":            testAudience,
		"exp":            t0.Add(15 * time.Minute).Unix(),
		"iat":            t0.Unix(),
		"jti":            "3TW5NWYQVZ7O4ASLHGJQ2XK2FA",
		"client_id":      "latch",
		"sid":            "7c9f4e0c-1d5b-4a39-8f1e-0d6a2b3c4d5e",
		"amr":            []string{"pwd"},
		"aal":            "aal1",
		"auth_time":      t0.Add(-time.Minute).Unix(),
		"email":          "alice@example.com",
		"email_verified": true,
	}
	for name, v := range edits {
		if v == nil {
			delete(c, name)
		} else {
			c[name] = v
		}
	}
	return c
}

const testAudience = "https://api.example.com"

// startVerifier returns a Verifier for f with the test clock and audience;
// edit changes the options first.
func startVerifier(t testing.TB, f *fakeIssuer, clk *clocktest.Clock, edit func(*Options)) *Verifier {
	t.Helper()
	opts := Options{Audience: []string{testAudience}, Now: clk.Now}
	if edit != nil {
		edit(&opts)
	}
	v, err := New(context.Background(), f.url(), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

// waitFetches waits until the issuer has served at least n JWKS requests
// and the Verifier has finished handling them.
func waitFetches(t testing.TB, f *fakeIssuer, v *Verifier, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v.mu.Lock()
		idle := v.flight == nil
		v.mu.Unlock()
		if f.jwksFetches.Load() >= n && idle {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("JWKS fetches: got %d, want %d", f.jwksFetches.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}
