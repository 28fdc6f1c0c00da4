package verify

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/latchauth/latch/internal/clocktest"
)

// attacker is a server that would serve the attacker's key to any
// verifier that followed a URL in a token header.
type attacker struct {
	key  *testKey
	srv  *httptest.Server
	hits atomic.Int64
}

func newAttacker(t *testing.T) *attacker {
	a := &attacker{key: newKey(t, ES256, "attacker")}
	jwks, err := json.Marshal(map[string]any{"keys": []json.RawMessage{a.key.jwkJSON(t, nil)}})
	if err != nil {
		t.Fatal(err)
	}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.hits.Add(1)
		_, _ = w.Write(jwks)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// asKid returns the attacker's key under another kid.
func (a *attacker) asKid(kid string) *testKey {
	k := *a.key
	k.kid = kid
	return &k
}

// selfSigned is an X.509 certificate for k, for x5c.
func selfSigned(t *testing.T, k *testKey) string {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "latch"},
		NotBefore:    t0.Add(-time.Hour),
		NotAfter:     t0.Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.priv.Public(), k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

func publicPEM(t *testing.T, k *testKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// hmacToken signs claims with HS256 and secret, under kid: the
// algorithm-confusion attack, where a verifier that lets the token pick
// the algorithm uses the public key as an HMAC secret.
func hmacToken(t testing.TB, secret []byte, kid string, claims any) string {
	opts := (&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", kid)
	return signWith(t, jose.SigningKey{Algorithm: jose.HS256, Key: secret}, opts, claims)
}

// segments splits a compact JWS.
func segments(raw string) []string { return strings.Split(raw, ".") }

// TestVerifyRefusesAttacks feeds Verify tokens that an attacker could
// make, each refused for the reason given. Every case names the rule it
// tests.
func TestVerifyRefusesAttacks(t *testing.T) {
	es, rs, ed := newKey(t, ES256, "a"), newKey(t, RS256, "a"), newKey(t, EdDSA, "a")
	f := newFakeIssuer(t, es, rs, ed)
	v := startVerifier(t, f, clocktest.New(t0), nil)
	evil := newAttacker(t)
	good := es.sign(t, f.claims(nil), nil)
	hdr := `{"alg":"ES256","kid":"` + es.kid + `","typ":"at+jwt"}`
	payload, err := json.Marshal(f.claims(nil))
	if err != nil {
		t.Fatal(err)
	}
	claims := string(payload)
	unsigned := func(alg string) string {
		return b64url(`{"alg":"`+alg+`","kid":"`+es.kid+`","typ":"at+jwt"}`) + "." + b64url(claims) + "." + b64url("sig")
	}
	withSig := func(raw string, sig []byte) string {
		s := segments(raw)
		return s[0] + "." + s[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
	}

	tests := []struct {
		name  string
		rule  string
		token func(t *testing.T) string
		want  string
	}{
		// Algorithm confusion and unsigned tokens.
		{"alg none", "RFC 8725 §3.1, §2.1", func(*testing.T) string { return unsigned("none") }, reasonAlgorithm},
		{"alg None", "RFC 8725 §3.1, §2.1", func(*testing.T) string { return unsigned("None") }, reasonAlgorithm},
		{"alg NONE", "RFC 8725 §3.1, §2.1", func(*testing.T) string { return unsigned("NONE") }, reasonAlgorithm},
		{"alg none, empty signature", "RFC 8725 §3.1, RFC 7515 §7.1", func(*testing.T) string {
			return b64url(`{"alg":"none","typ":"at+jwt"}`) + "." + b64url(claims) + "."
		}, reasonMalformed},
		{"HS256 with the ES256 public key as PEM secret", "RFC 8725 §2.1, §3.1", func(t *testing.T) string {
			return hmacToken(t, publicPEM(t, es), es.kid, f.claims(nil))
		}, reasonAlgorithm},
		{"HS256 with the RS256 public key as PEM secret", "RFC 8725 §2.1, §3.1", func(t *testing.T) string {
			return hmacToken(t, publicPEM(t, rs), rs.kid, f.claims(nil))
		}, reasonAlgorithm},
		{"HS256 with the public JWK JSON as secret", "RFC 8725 §2.1, §3.1", func(t *testing.T) string {
			return hmacToken(t, rs.jwkJSON(t, nil), rs.kid, f.claims(nil))
		}, reasonAlgorithm},
		{"ES256 token whose header says RS256", "RFC 8725 §3.1: the key's alg binds", func(t *testing.T) string {
			return es.signRaw(t, `{"alg":"RS256","kid":"`+es.kid+`","typ":"at+jwt"}`, claims)
		}, reasonAlgorithm},
		{"EdDSA header with the ES256 key's kid", "RFC 8725 §3.1", func(t *testing.T) string {
			return ed.signRaw(t, `{"alg":"EdDSA","kid":"`+es.kid+`","typ":"at+jwt"}`, claims)
		}, reasonAlgorithm},
		{"alg named only in another case", "RFC 7515 §4: names are case-sensitive", func(t *testing.T) string {
			return es.signRaw(t, `{"ALG":"ES256","kid":"`+es.kid+`","typ":"at+jwt"}`, claims)
		}, reasonAlgorithm},

		// Signatures.
		{"signature removed", "RFC 7515 §7.1, §5.2", func(*testing.T) string {
			s := segments(good)
			return s[0] + "." + s[1] + "."
		}, reasonMalformed},
		{"signature by a foreign key with the same kid", "RFC 7515 §5.2", func(t *testing.T) string {
			return evil.asKid(es.kid).sign(t, f.claims(nil), nil)
		}, reasonSignature},
		{"edited payload", "RFC 7515 §5.2", func(*testing.T) string {
			s := segments(good)
			edited, _ := json.Marshal(f.claims(map[string]any{"sub": "admin"}))
			return s[0] + "." + b64url(string(edited)) + "." + s[2]
		}, reasonSignature},
		{"edited header", "RFC 7515 §5.2", func(*testing.T) string {
			s := segments(good)
			return b64url(`{"alg":"ES256","kid":"`+es.kid+`","typ":"at+jwt","x":1}`) + "." + s[1] + "." + s[2]
		}, reasonSignature},
		{"ES256 signature in DER, not r||s", "RFC 7518 §3.4", func(t *testing.T) string {
			input := b64url(hdr) + "." + b64url(claims)
			der, err := ecdsa.SignASN1(rand.Reader, es.priv.(*ecdsa.PrivateKey), hashSHA256([]byte(input)))
			if err != nil {
				t.Fatal(err)
			}
			return input + "." + base64.RawURLEncoding.EncodeToString(der)
		}, reasonSignature},
		{"ES256 signature of zeros", "RFC 7518 §3.4", func(*testing.T) string { return withSig(good, make([]byte, 64)) }, reasonSignature},
		{"RS256 signature one byte short", "RFC 8017 §8.2.2", func(t *testing.T) string {
			raw := rs.sign(t, f.claims(nil), nil)
			sig, _ := base64.RawURLEncoding.DecodeString(segments(raw)[2])
			return withSig(raw, sig[1:])
		}, reasonSignature},
		{"EdDSA signature bit flipped", "RFC 8032 §5.1.7", func(t *testing.T) string {
			raw := ed.sign(t, f.claims(nil), nil)
			sig, _ := base64.RawURLEncoding.DecodeString(segments(raw)[2])
			sig[10] ^= 1
			return withSig(raw, sig)
		}, reasonSignature},

		// Keys are found by kid in the issuer's JWKS and nowhere else.
		{"unknown kid", "RFC 8725 §3.10", func(t *testing.T) string { return evil.key.sign(t, f.claims(nil), nil) }, reasonUnknownKey},
		{"path-like kid", "RFC 8725 §3.10", func(t *testing.T) string {
			return evil.asKid("../../../../etc/passwd").sign(t, f.claims(nil), nil)
		}, reasonUnknownKey},
		{"1 KB kid", "RFC 8725 §3.10", func(t *testing.T) string {
			return evil.asKid(strings.Repeat("k", 1<<10)).sign(t, f.claims(nil), nil)
		}, reasonUnknownKey},
		{"10 KB kid", "RFC 8725 §3.10, MaxTokenSize", func(t *testing.T) string {
			return evil.asKid(strings.Repeat("k", 10<<10)).sign(t, f.claims(nil), nil)
		}, reasonMalformed},
		{"no kid", "RFC 8725 §3.10", func(t *testing.T) string {
			return es.sign(t, f.claims(nil), map[string]any{"kid": nil})
		}, reasonUnknownKey},
		{"kid a number", "RFC 7515 §4.1.4", func(t *testing.T) string {
			return es.signRaw(t, `{"alg":"ES256","kid":1,"typ":"at+jwt"}`, claims)
		}, reasonMalformed},
		{"jku to the attacker's JWKS", "RFC 8725 §3.10, RFC 7515 §4.1.2", func(t *testing.T) string {
			return evil.key.sign(t, f.claims(nil), map[string]any{"jku": evil.srv.URL})
		}, reasonUnknownKey},
		{"jku to the attacker's JWKS, real kid", "RFC 8725 §3.10, RFC 7515 §4.1.2", func(t *testing.T) string {
			return evil.asKid(es.kid).sign(t, f.claims(nil), map[string]any{"jku": evil.srv.URL})
		}, reasonSignature},
		{"x5u to the attacker's key", "RFC 8725 §3.10, RFC 7515 §4.1.5", func(t *testing.T) string {
			return evil.asKid(es.kid).sign(t, f.claims(nil), map[string]any{"x5u": evil.srv.URL})
		}, reasonSignature},
		{"jwk embeds the attacker's key", "RFC 8725 §3.10, RFC 7515 §4.1.3", func(t *testing.T) string {
			return evil.asKid(es.kid).sign(t, f.claims(nil), map[string]any{"jwk": evil.key.jwk()})
		}, reasonSignature},
		{"jwk embeds the attacker's key, no kid", "RFC 8725 §3.10, RFC 7515 §4.1.3", func(t *testing.T) string {
			return evil.key.sign(t, f.claims(nil), map[string]any{"jwk": evil.key.jwk(), "kid": nil})
		}, reasonUnknownKey},
		{"x5c embeds the attacker's certificate", "RFC 8725 §3.10, RFC 7515 §4.1.6", func(t *testing.T) string {
			return evil.asKid(es.kid).sign(t, f.claims(nil), map[string]any{"x5c": []string{selfSigned(t, evil.key)}})
		}, reasonSignature},

		// Header rules.
		{"crit", "RFC 7515 §4.1.11", func(t *testing.T) string {
			return es.sign(t, f.claims(nil), map[string]any{"crit": []string{"exp"}, "exp": 1})
		}, reasonMalformed},
		{"b64 false", "RFC 7797 §3", func(t *testing.T) string {
			return es.signRaw(t, `{"alg":"ES256","kid":"`+es.kid+`","typ":"at+jwt","b64":false,"crit":["b64"]}`, claims)
		}, reasonMalformed},
		{"alg twice", "RFC 7515 §4", func(t *testing.T) string {
			return es.signRaw(t, `{"alg":"none","alg":"ES256","kid":"`+es.kid+`","typ":"at+jwt"}`, claims)
		}, reasonMalformed},
		{"header not an object", "RFC 7515 §4", func(t *testing.T) string { return es.signRaw(t, `["ES256"]`, claims) }, reasonMalformed},
		{"header with trailing data", "RFC 8259 §2", func(t *testing.T) string { return es.signRaw(t, hdr+"x", claims) }, reasonMalformed},
		{"typ JWT", "RFC 9068 §4, RFC 8725 §3.11", func(t *testing.T) string {
			return es.sign(t, f.claims(nil), map[string]any{"typ": "JWT"})
		}, reasonType},
		{"typ application/jwt", "RFC 9068 §4, RFC 8725 §3.11", func(t *testing.T) string {
			return es.sign(t, f.claims(nil), map[string]any{"typ": "application/jwt"})
		}, reasonType},
		{"typ at+jwt with a space", "RFC 9068 §4", func(t *testing.T) string {
			return es.sign(t, f.claims(nil), map[string]any{"typ": "at+jwt "})
		}, reasonType},
		{"no typ", "RFC 9068 §4, RFC 8725 §3.11", func(t *testing.T) string {
			return es.sign(t, f.claims(nil), map[string]any{"typ": nil})
		}, reasonType},

		// Claims.
		{"wrong iss", "RFC 9068 §4, RFC 8725 §3.8", func(t *testing.T) string {
			return es.sign(t, f.claims(map[string]any{"iss": "https://evil.example"}), nil)
		}, reasonIssuer},
		{"iss with a trailing slash", "RFC 9068 §4: exact match", func(t *testing.T) string {
			return es.sign(t, f.claims(map[string]any{"iss": f.url() + "/"}), nil)
		}, reasonIssuer},
		{"no iss", "RFC 9068 §4", func(t *testing.T) string { return es.sign(t, f.claims(map[string]any{"iss": nil}), nil) }, reasonIssuer},
		{"wrong aud", "RFC 9068 §4, RFC 8725 §3.9", func(t *testing.T) string {
			return es.sign(t, f.claims(map[string]any{"aud": "https://other.example.com"}), nil)
		}, reasonAudience},
		{"wrong aud array", "RFC 9068 §4, RFC 8725 §3.9", func(t *testing.T) string {
			return es.sign(t, f.claims(map[string]any{"aud": []string{"a", "b"}}), nil)
		}, reasonAudience},
		{"no aud", "RFC 9068 §2.2, §4", func(t *testing.T) string { return es.sign(t, f.claims(map[string]any{"aud": nil}), nil) }, reasonMissing("aud")},
		{"empty aud array", "RFC 9068 §2.2, §4", func(t *testing.T) string {
			return es.sign(t, f.claims(map[string]any{"aud": []string{}}), nil)
		}, reasonMissing("aud")},
		{"aud a number", "RFC 7519 §4.1.3", func(t *testing.T) string { return es.sign(t, f.claims(map[string]any{"aud": 1}), nil) }, reasonMalformed},
		{"expired", "RFC 9068 §4, RFC 7519 §4.1.4", func(t *testing.T) string {
			return es.sign(t, f.claims(map[string]any{"exp": t0.Add(-time.Hour).Unix()}), nil)
		}, reasonExpired},
		{"nbf in the future", "RFC 7519 §4.1.5", func(t *testing.T) string {
			return es.sign(t, f.claims(map[string]any{"nbf": t0.Add(time.Hour).Unix()}), nil)
		}, reasonNotYetValid},
		{"iat in the future", "RFC 7519 §4.1.6", func(t *testing.T) string {
			return es.sign(t, f.claims(map[string]any{"iat": t0.Add(time.Hour).Unix()}), nil)
		}, reasonNotYetValid},
		{"no exp", "RFC 9068 §2.2", func(t *testing.T) string { return es.sign(t, f.claims(map[string]any{"exp": nil}), nil) }, reasonMissing("exp")},
		{"no iat", "RFC 9068 §2.2", func(t *testing.T) string { return es.sign(t, f.claims(map[string]any{"iat": nil}), nil) }, reasonMissing("iat")},
		{"no sub", "RFC 9068 §2.2", func(t *testing.T) string { return es.sign(t, f.claims(map[string]any{"sub": nil}), nil) }, reasonMissing("sub")},
		{"no jti", "RFC 9068 §2.2", func(t *testing.T) string { return es.sign(t, f.claims(map[string]any{"jti": nil}), nil) }, reasonMissing("jti")},
		{"no client_id", "RFC 9068 §2.2", func(t *testing.T) string {
			return es.sign(t, f.claims(map[string]any{"client_id": nil}), nil)
		}, reasonMissing("client_id")},
		{"exp as a string", "RFC 7519 §2 NumericDate", func(t *testing.T) string {
			return es.sign(t, f.claims(map[string]any{"exp": "2100000000"}), nil)
		}, reasonMalformed},
		{"exp negative", "RFC 7519 §2 NumericDate", func(t *testing.T) string { return es.sign(t, f.claims(map[string]any{"exp": -1}), nil) }, reasonMalformed},
		{"exp past year 9999", "RFC 7519 §2 NumericDate", func(t *testing.T) string {
			return es.sign(t, f.claims(map[string]any{"exp": 1e20}), nil)
		}, reasonMalformed},
		{"exp twice", "RFC 7519 §4", func(t *testing.T) string {
			return es.signRaw(t, hdr, strings.Replace(claims, `"exp":`, `"exp":9999999999,"exp":`, 1))
		}, reasonMalformed},
		{"payload not JSON", "RFC 7519 §7.2", func(t *testing.T) string { return es.signRaw(t, hdr, "not json") }, reasonMalformed},
		{"payload a JSON array", "RFC 7519 §7.2", func(t *testing.T) string { return es.signRaw(t, hdr, "["+claims+"]") }, reasonMalformed},
		{"payload not UTF-8", "RFC 8725 §3.7, RFC 8259 §8.1", func(t *testing.T) string {
			return es.signRaw(t, hdr, strings.Replace(claims, "alice", "al\xffce", 1))
		}, reasonMalformed},
		{"lone surrogate in a claim", "RFC 8259 §8.2", func(t *testing.T) string {
			return es.signRaw(t, hdr, strings.Replace(claims, "alice", `al\ud800ce`, 1))
		}, reasonMalformed},

		// Serialization.
		{"empty", "RFC 7515 §7.1", func(*testing.T) string { return "" }, reasonMalformed},
		{"two segments", "RFC 7515 §7.1", func(*testing.T) string {
			s := segments(good)
			return s[0] + "." + s[1]
		}, reasonMalformed},
		{"four segments", "RFC 7515 §7.1", func(*testing.T) string { return good + "." + segments(good)[2] }, reasonMalformed},
		{"five segments (JWE)", "RFC 7516 §7.1, RFC 8725 §3.11", func(*testing.T) string { return good + ".AAAA.AAAA" }, reasonMalformed},
		{"padding", "RFC 7515 §2: base64url without padding", func(*testing.T) string {
			s := segments(good)
			return s[0] + "==." + s[1] + "." + s[2]
		}, reasonMalformed},
		{"standard base64 alphabet", "RFC 7515 §2", func(*testing.T) string {
			s := segments(good)
			return s[0] + "." + s[1] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(s[2]) + "+/"
		}, reasonMalformed},
		{"newline in a segment", "RFC 7515 §2", func(*testing.T) string {
			s := segments(good)
			return s[0] + "." + s[1][:10] + "\n" + s[1][10:] + "." + s[2]
		}, reasonMalformed},
		{"leading space", "RFC 7515 §7.1", func(*testing.T) string { return " " + good }, reasonMalformed},
		{"non-canonical base64 (padding bits set)", "RFC 4648 §3.5", func(*testing.T) string {
			// A 64-byte signature is 86 characters; the last one carries
			// four padding bits, which must be zero.
			s := segments(good)
			last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", s[2][85])
			return s[0] + "." + s[1] + "." + s[2][:85] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last|1])
		}, reasonMalformed},
		{"segment of 4n+1 characters", "RFC 4648 §5", func(*testing.T) string { return good + "AAA" }, reasonMalformed},
		{"oversized, validly signed", "MaxTokenSize, this package's bound on work before a signature is checked (no RFC sets one)", func(t *testing.T) string {
			return es.sign(t, f.claims(map[string]any{"pad": strings.Repeat("x", MaxTokenSize)}), nil)
		}, reasonMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := tt.token(t)
			c, err := v.Verify(context.Background(), raw)
			if c != nil {
				t.Errorf("%s: Verify returned claims for a refused token", tt.rule)
			}
			if !errIsReason(err, tt.want) {
				t.Errorf("%s: Verify: got %v, want reason %q", tt.rule, err, tt.want)
			}
		})
	}
	if n := evil.hits.Load(); n != 0 {
		t.Errorf("RFC 8725 §3.10: the attacker's server was fetched %d times, want 0", n)
	}
}

func errIsReason(err error, reason string) bool {
	te, ok := err.(*tokenError)
	return ok && te.reason == reason
}
