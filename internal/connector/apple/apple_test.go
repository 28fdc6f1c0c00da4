package apple_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"net/url"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/latchauth/latch/internal/connector"
	"github.com/latchauth/latch/internal/connector/apple"
	"github.com/latchauth/latch/internal/connector/internal/providertest"
)

var req = connector.Request{State: "st", Nonce: "n-apple-1", Verifier: "verifier-0123456789-0123456789-0123456789-abc"}

func p8(t *testing.T) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return k, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func idToken(t *testing.T, s *providertest.Server, aud, nonce string) string {
	now := time.Now()
	// As Apple sends them: email_verified and is_private_email strings.
	return s.Sign(t, map[string]any{
		"iss": "https://appleid.apple.com", "aud": aud, "exp": now.Add(10 * time.Minute).Unix(), "iat": now.Unix(),
		"sub": "001234.a1b2c3d4e5f6.1234", "nonce": nonce, "c_hash": "x", "email": "abc123@privaterelay.appleid.com",
		"email_verified": "true", "is_private_email": "true", "auth_time": now.Unix(), "nonce_supported": true,
	})
}

func TestAppleSignIn(t *testing.T) {
	s := providertest.New(t)
	key, pemKey := p8(t)
	s.Mux.HandleFunc("GET /auth/keys", providertest.JWKS(map[string]*rsa.PrivateKey{s.KeyID: s.Key}))
	s.Mux.HandleFunc("POST /auth/token", func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "appleid.apple.com" || r.FormValue("client_id") != "com.example.web" || r.FormValue("code_verifier") != req.Verifier {
			t.Errorf("token request: host %q form %v", r.Host, r.Form)
		}
		// The client secret: ES256, kid, iss team, sub client, aud Apple.
		tok, err := jwt.ParseSigned(r.FormValue("client_secret"), []jose.SignatureAlgorithm{jose.ES256})
		var c jwt.Claims
		if err != nil || tok.Headers[0].KeyID != "ABC123DEFG" || tok.Claims(&key.PublicKey, &c) != nil ||
			c.Issuer != "DEF123GHIJ" || c.Subject != "com.example.web" || !c.Audience.Contains("https://appleid.apple.com") ||
			c.Expiry.Time().Sub(c.IssuedAt.Time()) > 6*30*24*time.Hour || c.ValidateWithLeeway(jwt.Expected{Time: time.Now()}, 0) != nil {
			w.WriteHeader(http.StatusBadRequest)
			providertest.JSON(w, map[string]string{"error": "invalid_client"})
			return
		}
		providertest.JSON(w, map[string]any{"access_token": "a0b1", "token_type": "Bearer", "expires_in": 3600,
			"refresh_token": "r0b1", "id_token": idToken(t, s, "com.example.web", req.Nonce)})
	})
	k, err := apple.New(t.Context(), connector.Config{ID: "apple", Type: "apple", ClientID: "com.example.web", ClientIDs: []string{"com.example.ios"},
		TeamID: "DEF123GHIJ", KeyID: "ABC123DEFG", PrivateKey: pemKey, RedirectURL: "https://latch.test/v1/callback/apple"},
		connector.Options{Client: s.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if !k.FormPost() {
		t.Error("FormPost: got false, want true")
	}
	u, err := k.AuthURL(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := url.Parse(u)
	q := p.Query()
	if p.String() == "" || p.Host != "appleid.apple.com" || p.Path != "/auth/authorize" || q.Get("response_mode") != "form_post" ||
		q.Get("scope") != "name email" || q.Get("nonce") != req.Nonce || q.Get("code_challenge_method") != "S256" {
		t.Errorf("auth URL: got %s", u)
	}

	// First sign-in: Apple posts the user field, once. Its email is
	// not signed and is not used.
	first := url.Values{"state": {"st"}, "code": {"c0de"}, "id_token": {"ignored"},
		"user": {`{"name":{"firstName":"Jane","lastName":"Appleseed"},"email":"attacker@example.com"}`}}
	id, err := k.Callback(t.Context(), req, first)
	if err != nil {
		t.Fatal(err)
	}
	want := connector.Identity{Subject: "001234.a1b2c3d4e5f6.1234", Email: "abc123@privaterelay.appleid.com", EmailVerified: true, Name: "Jane Appleseed"}
	if id != want {
		t.Errorf("first sign-in: got %+v, want %+v", id, want)
	}
	// Later sign-ins: no user field, no name.
	id, err = k.Callback(t.Context(), req, url.Values{"state": {"st"}, "code": {"c0de"}})
	want.Name = ""
	if err != nil || id != want {
		t.Errorf("second sign-in: got %+v, %v; want %+v", id, err, want)
	}

	// The native app's token: aud its bundle id, nonce hashed.
	sum := sha256.Sum256([]byte("raw-nonce"))
	id, exp, err := k.VerifyIDToken(t.Context(), idToken(t, s, "com.example.ios", hex.EncodeToString(sum[:])), "raw-nonce")
	if err != nil || id.Subject != want.Subject || time.Until(exp) < 5*time.Minute {
		t.Errorf("native: got %+v, %v, %v", id, exp, err)
	}
}

func TestAppleCheck(t *testing.T) {
	_, good := p8(t)
	rsaDER, _ := x509.MarshalPKCS8PrivateKey(providertest.NewKey(t))
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384DER, _ := x509.MarshalPKCS8PrivateKey(p384)
	for name, tc := range map[string]struct {
		c    connector.Config
		want int
	}{
		"good":        {connector.Config{TeamID: "T", KeyID: "K", PrivateKey: good}, 0},
		"nothing":     {connector.Config{}, 3},
		"not PEM":     {connector.Config{TeamID: "T", KeyID: "K", PrivateKey: []byte("-----")}, 1},
		"an RSA key":  {connector.Config{TeamID: "T", KeyID: "K", PrivateKey: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: rsaDER})}, 1},
		"a P-384 key": {connector.Config{TeamID: "T", KeyID: "K", PrivateKey: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p384DER})}, 1},
	} {
		if got := apple.Check(tc.c); len(got) != tc.want {
			t.Errorf("%s: got %q, want %d problems", name, got, tc.want)
		}
	}
}
