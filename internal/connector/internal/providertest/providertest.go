// Package providertest is what the connector tests share: a loopback
// TLS server that stands for a provider's real hosts, an HTTP client
// that sends every host to it, keys and signed tokens, and a check that
// no goroutine was left behind. Only tests import it.
package providertest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Server is one provider on loopback. Handlers are added to Mux with
// the real paths; the client makes every host (accounts.google.com,
// api.github.com, …) reach it.
type Server struct {
	*httptest.Server
	Mux   *http.ServeMux
	Key   *rsa.PrivateKey
	KeyID string
}

// New starts a server and closes it when the test ends.
func New(t *testing.T) *Server {
	t.Helper()
	mux := http.NewServeMux()
	s := &Server{Server: httptest.NewTLSServer(mux), Mux: mux, Key: NewKey(t), KeyID: "key-1"}
	t.Cleanup(s.Close)
	return s
}

// NewKey returns a fresh RSA key.
func NewKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Client returns a client that reaches s for every host, trusting its
// certificate, with a timeout.
func (s *Server) Client() *http.Client {
	tr := s.Server.Client().Transport.(*http.Transport).Clone()
	addr := s.Listener.Addr().String()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	// httptest's certificate names example.com; the host asked for is
	// the provider's real one.
	tr.TLSClientConfig.ServerName = "example.com"
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// JWKS serves keys (public parts of the given keys, each with its kid).
func JWKS(keys map[string]*rsa.PrivateKey) http.HandlerFunc {
	var set jose.JSONWebKeySet
	for kid, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"})
	}
	return func(w http.ResponseWriter, r *http.Request) { JSON(w, set) }
}

// JSON writes v as a 200 JSON answer.
func JSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// Sign signs claims with s's key (RS256, kid s.KeyID).
func (s *Server) Sign(t *testing.T, claims map[string]any) string {
	t.Helper()
	return Sign(t, jose.RS256, s.Key, s.KeyID, claims)
}

// Sign signs claims as a JWS with key.
func Sign(t *testing.T, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), kid)
	}
	sg, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := sg.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// Unsigned is claims as a JWT with alg "none" and no signature.
func Unsigned(t *testing.T, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc(payload) + "."
}

// PublicPEM is the public key as PKIX PEM: the "secret" of the HS256
// key-confusion attack, where a verifier that trusts the token's alg
// would check an HMAC keyed with the provider's public key.
func PublicPEM(t *testing.T, k *rsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// NoLeak fails the test if, within a few seconds, the number of
// goroutines has not come back to at most base.
func NoLeak(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= base {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("goroutines: got %d, want at most %d\n%s", n, base, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
