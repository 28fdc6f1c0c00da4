package token

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/latchauth/latch/internal/jwstest"
)

// Issue → Verify returns every claim, and the header is what RFC 9068 §2.1
// asks for: typ at+jwt, alg of the key, kid.
func TestIssueVerifyRoundTrip(t *testing.T) {
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			fx := newFixture(t, alg)
			in := signInClaims
			in.Scope = "openid profile"
			raw, issued := mustIssue(t, fx.m, in)
			now := fx.clock.Now()
			want := in
			want.Issuer = testIssuer
			want.Audience = []string{testAudience, "https://other.example.com"}
			want.IssuedAt = now
			want.ExpiresAt = now.Add(DefaultAccessTTL)
			want.ClientID = DefaultClientID
			want.ID = issued.ID
			if diff := cmp.Diff(want, issued); diff != "" {
				t.Errorf("issued claims (-want +got):\n%s", diff)
			}
			if len(issued.ID) < 22 {
				t.Errorf("jti %q: got %d characters, want at least 128 random bits", issued.ID, len(issued.ID))
			}

			got, err := fx.m.Verify(context.Background(), raw)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if diff := cmp.Diff(issued, got); diff != "" {
				t.Errorf("verified claims (-issued +verified):\n%s", diff)
			}

			header := decodeSegment(t, raw, 0)
			wantHeader := map[string]any{"alg": alg, "kid": fx.current().id, "typ": "at+jwt"}
			if diff := cmp.Diff(wantHeader, header); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
			payload := decodeSegment(t, raw, 1)
			for _, c := range []string{"iss", "sub", "aud", "exp", "iat", "jti", "client_id", "sid", "amr", "aal", "email", "email_verified", "scope"} {
				if _, ok := payload[c]; !ok {
					t.Errorf("payload has no %q claim; RFC 9068 §2.2 and DESIGN.md want it", c)
				}
			}
			if _, ok := payload["nbf"]; ok {
				t.Error("payload has nbf, want it omitted when not set")
			}
		})
	}
}

// A single audience is written as a string (RFC 7519 §4.1.3 allows both
// forms; RFC 9068 §2.2 examples use the string form).
func TestIssueSingleAudienceIsString(t *testing.T) {
	fx := newFixture(t, ES256)
	opts := testOptions(ES256, fx.clock)
	opts.Audience = []string{testAudience}
	m := newManager(t, fx.store, opts)
	raw, _ := mustIssue(t, m, Claims{Subject: "u", SessionID: "s"})
	if got := decodeSegment(t, raw, 1)["aud"]; got != testAudience {
		t.Errorf("aud: got %#v, want the string %q", got, testAudience)
	}
	if _, err := m.Verify(context.Background(), raw); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

func TestIssueRefuses(t *testing.T) {
	fx := newFixture(t, ES256)
	for name, c := range map[string]Claims{
		"no sub": {SessionID: "s"},
		"no sid": {Subject: "u"},
	} {
		if _, _, err := fx.m.Issue(c); err == nil {
			t.Errorf("%s: got nil error, want one (RFC 9068 §2.2 requires sub; sid ties the token to its session)", name)
		}
	}
	m, err := NewManager(&fakeKeys{}, testSealer(t), testOptions(ES256, fx.clock), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Issue(Claims{Subject: "u", SessionID: "s"}); err != ErrNoSigningKey {
		t.Errorf("Issue before Init: got %v, want ErrNoSigningKey", err)
	}
	if _, err := m.Verify(context.Background(), "a.b.c"); err == nil {
		t.Error("Verify before Init: got nil error, want one")
	}
}

func decodeSegment(t testing.TB, raw string, i int) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// attack is a token that Verify must refuse, and the requirement that says so.
type attack struct {
	name string
	ref  string
	tok  func(t testing.TB, fx *fixture) string
}

func without(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		delete(m, k)
	}
	return m
}

func with(m map[string]any, kv ...any) map[string]any {
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// publicPEM and publicJWK are the forms of the public key that an
// attacker would feed to HMAC in the RS256/HS256 confusion attack.
func publicPEM(t testing.TB, fx *fixture) []byte {
	der, err := x509.MarshalPKIXPublicKey(fx.current().public)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func publicJWK(t testing.TB, fx *fixture) []byte {
	return mustJSON(t, fx.current().jwk)
}

func attackerJWK(t testing.TB, alg string) (jose.JSONWebKey, func([]byte) []byte) {
	k := foreignKey(t, alg)
	jwk := jose.JSONWebKey{Key: k.Public(), Algorithm: alg, Use: "sig"}
	kid, err := thumbprint(jwk)
	if err != nil {
		t.Fatal(err)
	}
	jwk.KeyID = kid
	return jwk, signer(t, k)
}

// otherAlg returns an algorithm latch supports that fx's key does not use.
func otherAlg(alg string) string {
	if alg == RS256 {
		return ES256
	}
	return RS256
}

func attacks() []attack {
	return []attack{
		{"alg none", "RFC 8725 §3.1, §3.2; ASVS 5.0 V9.1.2", func(t testing.TB, fx *fixture) string {
			return forge(t, with(fx.header(), "alg", "none"), fx.claims(t), func([]byte) []byte { return nil })
		}},
		{"alg None", "RFC 8725 §3.1; ASVS 5.0 V9.1.2", func(t testing.TB, fx *fixture) string {
			return forge(t, with(fx.header(), "alg", "None"), fx.claims(t), func([]byte) []byte { return nil })
		}},
		{"alg NONE with a signature", "RFC 8725 §3.1; ASVS 5.0 V9.1.2", func(t testing.TB, fx *fixture) string {
			return forge(t, with(fx.header(), "alg", "NONE"), fx.claims(t), func([]byte) []byte { return []byte("sig") })
		}},
		{"HS256 keyed with the PEM public key", "RFC 8725 §2.1, §3.1; ASVS 5.0 V9.1.2", func(t testing.TB, fx *fixture) string {
			return forge(t, with(fx.header(), "alg", "HS256"), fx.claims(t), jwstest.HMAC(publicPEM(t, fx)))
		}},
		{"HS256 keyed with the JWK public key", "RFC 8725 §2.1, §3.1; ASVS 5.0 V9.1.2", func(t testing.TB, fx *fixture) string {
			return forge(t, with(fx.header(), "alg", "HS256"), fx.claims(t), jwstest.HMAC(publicJWK(t, fx)))
		}},
		{"HS512 keyed with the JWKS document", "RFC 8725 §3.1; ASVS 5.0 V9.1.2", func(t testing.TB, fx *fixture) string {
			return forge(t, with(fx.header(), "alg", "HS512"), fx.claims(t), jwstest.HMAC(fx.m.JWKS()))
		}},
		{"alg of another supported family, attacker's key, our kid", "RFC 8725 §3.1; ASVS 5.0 V9.1.2", func(t testing.TB, fx *fixture) string {
			other := otherAlg(fx.alg)
			return forge(t, with(fx.header(), "alg", other), fx.claims(t), signer(t, foreignKey(t, other)))
		}},
		{"signature removed", "RFC 8725 §3.3; ASVS 5.0 V9.1.1", func(t testing.TB, fx *fixture) string {
			tok := fx.sign(t, fx.header(), fx.claims(t))
			return tok[:strings.LastIndexByte(tok, '.')+1]
		}},
		{"signature of a foreign key with our kid", "RFC 8725 §3.3; ASVS 5.0 V9.1.1", func(t testing.TB, fx *fixture) string {
			return forge(t, fx.header(), fx.claims(t), signer(t, foreignKey(t, fx.alg)))
		}},
		{"payload edited after signing", "RFC 8725 §3.3; ASVS 5.0 V9.1.1", func(t testing.TB, fx *fixture) string {
			tok := fx.sign(t, fx.header(), fx.claims(t))
			parts := strings.Split(tok, ".")
			parts[1] = jwstest.Encode(mustJSON(t, with(fx.claims(t), "sub", "0190c3d8-0000-7000-8000-000000000000")))
			return strings.Join(parts, ".")
		}},
		{"header edited after signing", "RFC 8725 §3.3; ASVS 5.0 V9.1.1", func(t testing.TB, fx *fixture) string {
			tok := fx.sign(t, fx.header(), fx.claims(t))
			parts := strings.Split(tok, ".")
			parts[0] = jwstest.Encode(mustJSON(t, with(fx.header(), "typ", "application/at+jwt")))
			return strings.Join(parts, ".")
		}},
		{"unknown kid", "RFC 8725 §3.10; ASVS 5.0 V9.1.3", func(t testing.TB, fx *fixture) string {
			jwk, sign := attackerJWK(t, fx.alg)
			return forge(t, with(fx.header(), "kid", jwk.KeyID), fx.claims(t), sign)
		}},
		{"path-like kid", "RFC 8725 §3.10 (kid lookup must not become an injection)", func(t testing.TB, fx *fixture) string {
			return forge(t, with(fx.header(), "kid", "../../etc/passwd"), fx.claims(t), signer(t, foreignKey(t, fx.alg)))
		}},
		{"kid with SQL", "RFC 8725 §3.10", func(t testing.TB, fx *fixture) string {
			return forge(t, with(fx.header(), "kid", "x' OR '1'='1"), fx.claims(t), signer(t, foreignKey(t, fx.alg)))
		}},
		{"huge kid (10 KB)", "RFC 8725 §3.10; size limit", func(t testing.TB, fx *fixture) string {
			return forge(t, with(fx.header(), "kid", strings.Repeat("k", 10<<10)), fx.claims(t), signer(t, foreignKey(t, fx.alg)))
		}},
		{"large kid under the size limit (4 KB)", "RFC 8725 §3.10", func(t testing.TB, fx *fixture) string {
			return forge(t, with(fx.header(), "kid", strings.Repeat("k", 4<<10)), fx.claims(t), signer(t, foreignKey(t, fx.alg)))
		}},
		{"kid not a string", "RFC 7515 §4.1.4", func(t testing.TB, fx *fixture) string {
			return fx.sign(t, with(fx.header(), "kid", 7), fx.claims(t))
		}},
		{"no kid", "RFC 8725 §3.10 (the key is chosen by kid only)", func(t testing.TB, fx *fixture) string {
			return fx.sign(t, without(fx.header(), "kid"), fx.claims(t))
		}},
		{"wrong iss", "RFC 8725 §3.8; RFC 9068 §4", func(t testing.TB, fx *fixture) string {
			return fx.sign(t, fx.header(), with(fx.claims(t), "iss", "https://evil.example.com"))
		}},
		{"iss differs by a trailing slash", "RFC 8725 §3.8; RFC 9068 §4 (exact match)", func(t testing.TB, fx *fixture) string {
			return fx.sign(t, fx.header(), with(fx.claims(t), "iss", testIssuer+"/"))
		}},
		{"missing iss", "RFC 9068 §2.2, §4", func(t testing.TB, fx *fixture) string {
			return fx.sign(t, fx.header(), without(fx.claims(t), "iss"))
		}},
		{"wrong aud", "RFC 8725 §3.9; RFC 9068 §4; ASVS 5.0 V9.2.3", func(t testing.TB, fx *fixture) string {
			return fx.sign(t, fx.header(), with(fx.claims(t), "aud", "https://elsewhere.example.com"))
		}},
		{"wrong aud in an array", "RFC 8725 §3.9; ASVS 5.0 V9.2.3", func(t testing.TB, fx *fixture) string {
			return fx.sign(t, fx.header(), with(fx.claims(t), "aud", []string{"https://a.example.com", "https://b.example.com"}))
		}},
		{"missing aud", "RFC 9068 §2.2, §4; ASVS 5.0 V9.2.3", func(t testing.TB, fx *fixture) string {
			return fx.sign(t, fx.header(), without(fx.claims(t), "aud"))
		}},
		{"empty aud array", "RFC 9068 §4; ASVS 5.0 V9.2.3", func(t testing.TB, fx *fixture) string {
			return fx.sign(t, fx.header(), with(fx.claims(t), "aud", []string{}))
		}},
		{"typ JWT", "RFC 8725 §3.11; RFC 9068 §4; ASVS 5.0 V9.2.2", func(t testing.TB, fx *fixture) string {
			return fx.sign(t, with(fx.header(), "typ", "JWT"), fx.claims(t))
		}},
		{"typ missing", "RFC 8725 §3.11; RFC 9068 §4; ASVS 5.0 V9.2.2", func(t testing.TB, fx *fixture) string {
			return fx.sign(t, without(fx.header(), "typ"), fx.claims(t))
		}},
		{"typ of an ID token", "RFC 8725 §3.11; ASVS 5.0 V9.2.2", func(t testing.TB, fx *fixture) string {
			return fx.sign(t, with(fx.header(), "typ", "id_token+jwt"), fx.claims(t))
		}},
		{"expired beyond the leeway", "RFC 7519 §4.1.4; RFC 9068 §4; ASVS 5.0 V9.2.1", func(t testing.TB, fx *fixture) string {
			now := fx.clock.Now()
			return fx.sign(t, fx.header(), with(fx.claims(t), "exp", now.Add(-DefaultLeeway-time.Second).Unix(), "iat", now.Add(-time.Hour).Unix()))
		}},
		{"expired exactly at the leeway", "RFC 7519 §4.1.4 (now must be before exp)", func(t testing.TB, fx *fixture) string {
			now := fx.clock.Now()
			return fx.sign(t, fx.header(), with(fx.claims(t), "exp", now.Add(-DefaultLeeway).Unix(), "iat", now.Add(-time.Hour).Unix()))
		}},
		{"missing exp", "RFC 9068 §2.2; ASVS 5.0 V9.2.1", func(t testing.TB, fx *fixture) string {
			return fx.sign(t, fx.header(), without(fx.claims(t), "exp"))
		}},
		{"exp as a string", "RFC 7519 §2 NumericDate", func(t testing.TB, fx *fixture) string {
			return fx.sign(t, fx.header(), with(fx.claims(t), "exp", "9999999999"))
		}},
		{"nbf in the future beyond the leeway", "RFC 7519 §4.1.5; ASVS 5.0 V9.2.1", func(t testing.TB, fx *fixture) string {
			return fx.sign(t, fx.header(), with(fx.claims(t), "nbf", fx.clock.Now().Add(DefaultLeeway+2*time.Second).Unix()))
		}},
		{"iat in the future beyond the leeway", "RFC 7519 §4.1.6; RFC 9068 §2.2", func(t testing.TB, fx *fixture) string {
			return fx.sign(t, fx.header(), with(fx.claims(t), "iat", fx.clock.Now().Add(DefaultLeeway+2*time.Second).Unix()))
		}},
		{"missing iat", "RFC 9068 §2.2", func(t testing.TB, fx *fixture) string {
			return fx.sign(t, fx.header(), without(fx.claims(t), "iat"))
		}},
		{"missing sub", "RFC 8725 §3.8; RFC 9068 §2.2", func(t testing.TB, fx *fixture) string {
			return fx.sign(t, fx.header(), without(fx.claims(t), "sub"))
		}},
		{"missing sid", "DESIGN.md Tokens (sid ties the token to its session)", func(t testing.TB, fx *fixture) string {
			return fx.sign(t, fx.header(), without(fx.claims(t), "sid"))
		}},
		{"missing jti", "RFC 9068 §2.2", func(t testing.TB, fx *fixture) string {
			return fx.sign(t, fx.header(), without(fx.claims(t), "jti"))
		}},
		{"missing client_id", "RFC 9068 §2.2", func(t testing.TB, fx *fixture) string {
			return fx.sign(t, fx.header(), without(fx.claims(t), "client_id"))
		}},
		{"payload not JSON", "RFC 7519 §7.2 step 10", func(t testing.TB, fx *fixture) string {
			return fx.sign(t, fx.header(), []byte("not json"))
		}},
		{"payload a JSON array", "RFC 7519 §7.2 step 10", func(t testing.TB, fx *fixture) string {
			return fx.sign(t, fx.header(), []byte(`[1,2]`))
		}},
		{"crit header", "RFC 7515 §4.1.11; RFC 8725 §3.1", func(t testing.TB, fx *fixture) string {
			return fx.sign(t, with(fx.header(), "crit", []string{"exp"}, "exp", 1), fx.claims(t))
		}},
		{"crit b64 false", "RFC 7797 §3 (unencoded payload changes what is signed)", func(t testing.TB, fx *fixture) string {
			return fx.sign(t, with(fx.header(), "crit", []string{"b64"}, "b64", false), fx.claims(t))
		}},
		{"two segments", "RFC 7515 §7.1; RFC 8725 §3.4", func(t testing.TB, fx *fixture) string {
			tok := fx.sign(t, fx.header(), fx.claims(t))
			return tok[:strings.LastIndexByte(tok, '.')]
		}},
		{"four segments", "RFC 7515 §7.1; RFC 8725 §3.4", func(t testing.TB, fx *fixture) string {
			return fx.sign(t, fx.header(), fx.claims(t)) + ".e30"
		}},
		{"five segments (JWE shape)", "RFC 8725 §3.4", func(t testing.TB, fx *fixture) string {
			return "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..aaaa.bbbb.cccc"
		}},
		{"empty", "RFC 7515 §7.1", func(t testing.TB, fx *fixture) string { return "" }},
		{"only dots", "RFC 7515 §7.1", func(t testing.TB, fx *fixture) string { return ".." }},
		{"bad base64 character", "RFC 7515 §2 (base64url); RFC 8725 §3.4", func(t testing.TB, fx *fixture) string {
			tok := fx.sign(t, fx.header(), fx.claims(t))
			return "*" + tok[1:]
		}},
		{"standard base64 alphabet", "RFC 7515 §2", func(t testing.TB, fx *fixture) string {
			tok := fx.sign(t, fx.header(), fx.claims(t))
			return strings.NewReplacer("-", "+", "_", "/").Replace(tok) + "+/"
		}},
		{"padding", "RFC 7515 §2 (no padding)", func(t testing.TB, fx *fixture) string {
			tok := fx.sign(t, fx.header(), fx.claims(t))
			return tok + "=="
		}},
		{"newline inside a segment", "RFC 7515 §7.1 (no whitespace)", func(t testing.TB, fx *fixture) string {
			tok := fx.sign(t, fx.header(), fx.claims(t))
			return tok[:10] + "\n" + tok[10:]
		}},
		{"leading space", "RFC 7515 §7.1", func(t testing.TB, fx *fixture) string {
			return " " + fx.sign(t, fx.header(), fx.claims(t))
		}},
		{"non-canonical base64 tail", "RFC 4648 §3.5; token text must be unique", func(t testing.TB, fx *fixture) string {
			return nonCanonicalTail(t, fx.sign(t, fx.header(), fx.claims(t)))
		}},
		{"JSON serialization", "RFC 7515 §7.2 is not an access token form (RFC 9068 §2)", func(t testing.TB, fx *fixture) string {
			parts := strings.Split(fx.sign(t, fx.header(), fx.claims(t)), ".")
			return string(mustJSON(t, map[string]string{"protected": parts[0], "payload": parts[1], "signature": parts[2]}))
		}},
		{"embedded jwk of the attacker, attacker's kid", "RFC 8725 §3.10; ASVS 5.0 V9.1.3", func(t testing.TB, fx *fixture) string {
			jwk, sign := attackerJWK(t, fx.alg)
			return forge(t, with(fx.header(), "jwk", jwk.Public(), "kid", jwk.KeyID), fx.claims(t), sign)
		}},
		{"embedded jwk of the attacker, our kid", "RFC 8725 §3.10; ASVS 5.0 V9.1.3", func(t testing.TB, fx *fixture) string {
			jwk, sign := attackerJWK(t, fx.alg)
			return forge(t, with(fx.header(), "jwk", jwk.Public()), fx.claims(t), sign)
		}},
		{"jku header, attacker's key", "RFC 8725 §3.10; ASVS 5.0 V9.1.3", func(t testing.TB, fx *fixture) string {
			jwk, sign := attackerJWK(t, fx.alg)
			return forge(t, with(fx.header(), "jku", "https://evil.example.com/jwks.json", "kid", jwk.KeyID), fx.claims(t), sign)
		}},
		{"x5u header, attacker's key", "RFC 8725 §3.10; ASVS 5.0 V9.1.3", func(t testing.TB, fx *fixture) string {
			jwk, sign := attackerJWK(t, fx.alg)
			return forge(t, with(fx.header(), "x5u", "https://evil.example.com/cert.pem", "kid", jwk.KeyID), fx.claims(t), sign)
		}},
		{"huge token", "bounded work before the signature check", func(t testing.TB, fx *fixture) string {
			return fx.sign(t, fx.header(), with(fx.claims(t), "pad", strings.Repeat("p", MaxTokenSize)))
		}},
	}
}

// nonCanonicalTail sets unused low bits in the last character of a
// segment (the signature if it has spare bits): the same bytes, another
// string.
func nonCanonicalTail(t testing.TB, tok string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	parts := strings.Split(tok, ".")
	for i := len(parts) - 1; i >= 0; i-- {
		if p := parts[i]; len(p)%4 != 0 {
			last := strings.IndexByte(alphabet, p[len(p)-1])
			parts[i] = p[:len(p)-1] + string(alphabet[last|1])
			return strings.Join(parts, ".")
		}
	}
	t.Skip("no segment has spare bits")
	return ""
}

func TestVerifyRefusesAttacks(t *testing.T) {
	for _, alg := range algs {
		fx := newFixture(t, alg)
		for _, a := range attacks() {
			t.Run(alg+"/"+a.name, func(t *testing.T) {
				tok := a.tok(t, fx)
				got, err := fx.m.Verify(context.Background(), tok)
				if err == nil {
					t.Fatalf("Verify accepted the token (%s): got claims %+v, want ErrInvalidToken", a.ref, got)
				}
				wantInvalid(t, err)
				t.Logf("refused: %v", err)
				if diff := cmp.Diff(Claims{}, got); diff != "" {
					t.Errorf("claims returned with an error (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// The positive side of the same rules, so that the refusals above are
// refusals of the edited part and not of everything.
func TestVerifyAccepts(t *testing.T) {
	tests := []struct {
		name string
		ref  string
		tok  func(t testing.TB, fx *fixture) string
	}{
		{"as issued by hand", "RFC 9068 §2", func(t testing.TB, fx *fixture) string {
			return fx.sign(t, fx.header(), fx.claims(t))
		}},
		{"typ application/at+jwt", "RFC 9068 §4; RFC 7515 §4.1.9", func(t testing.TB, fx *fixture) string {
			return fx.sign(t, with(fx.header(), "typ", "application/at+jwt"), fx.claims(t))
		}},
		{"typ AT+JWT", "RFC 7515 §4.1.9 (case-insensitive)", func(t testing.TB, fx *fixture) string {
			return fx.sign(t, with(fx.header(), "typ", "AT+JWT"), fx.claims(t))
		}},
		{"aud as an array holding ours", "RFC 7519 §4.1.3; RFC 9068 §4", func(t testing.TB, fx *fixture) string {
			return fx.sign(t, fx.header(), with(fx.claims(t), "aud", []string{"https://x.example.com", "https://other.example.com"}))
		}},
		{"expired within the leeway", "RFC 7519 §4.1.4 (small leeway)", func(t testing.TB, fx *fixture) string {
			now := fx.clock.Now()
			return fx.sign(t, fx.header(), with(fx.claims(t), "exp", now.Add(-DefaultLeeway+time.Second).Unix(), "iat", now.Add(-time.Hour).Unix()))
		}},
		{"nbf in the future within the leeway", "RFC 7519 §4.1.5", func(t testing.TB, fx *fixture) string {
			return fx.sign(t, fx.header(), with(fx.claims(t), "nbf", fx.clock.Now().Add(DefaultLeeway-time.Second).Unix()))
		}},
		{"iat in the future within the leeway", "RFC 7519 §4.1.6", func(t testing.TB, fx *fixture) string {
			return fx.sign(t, fx.header(), with(fx.claims(t), "iat", fx.clock.Now().Add(DefaultLeeway-time.Second).Unix()))
		}},
		{"unknown claims", "RFC 7519 §4 (ignore claims not understood)", func(t testing.TB, fx *fixture) string {
			return fx.sign(t, fx.header(), with(fx.claims(t), "roles", []string{"admin"}))
		}},
		{"a jku header is ignored, never fetched", "RFC 8725 §3.10", func(t testing.TB, fx *fixture) string {
			return fx.sign(t, with(fx.header(), "jku", "https://evil.example.com/jwks.json"), fx.claims(t))
		}},
	}
	for _, alg := range algs {
		fx := newFixture(t, alg)
		for _, tt := range tests {
			t.Run(alg+"/"+tt.name, func(t *testing.T) {
				if _, err := fx.m.Verify(context.Background(), tt.tok(t, fx)); err != nil {
					t.Errorf("Verify: got %v, want nil (%s)", err, tt.ref)
				}
			})
		}
	}
}

// jku, x5u, jwk and x5c never make latch contact anyone (RFC 8725 §3.10:
// blindly following jku or x5u is SSRF; ASVS 5.0 V9.1.3).
func TestVerifyNeverFetches(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
	}))
	defer srv.Close()
	fx := newFixture(t, ES256)
	jwk, sign := attackerJWK(t, ES256)
	toks := []string{
		forge(t, with(fx.header(), "jku", srv.URL, "kid", jwk.KeyID), fx.claims(t), sign),
		forge(t, with(fx.header(), "x5u", srv.URL), fx.claims(t), sign),
		fx.sign(t, with(fx.header(), "jku", srv.URL, "x5u", srv.URL), fx.claims(t)),
	}
	for i, tok := range toks {
		_, err := fx.m.Verify(context.Background(), tok)
		if i < 2 {
			wantInvalid(t, err)
		}
	}
	if got := hits.Load(); got != 0 {
		t.Errorf("requests to the jku/x5u URL: got %d, want 0", got)
	}
}

// Time checks follow the injected clock: a token verifies until exp plus
// the leeway and not after (RFC 7519 §4.1.4; ASVS 5.0 V9.2.1).
func TestVerifyExpiryFollowsClock(t *testing.T) {
	fx := newFixture(t, EdDSA)
	raw, c := mustIssue(t, fx.m, Claims{Subject: "u", SessionID: "s"})
	steps := []struct {
		to   time.Time
		want bool
	}{
		{c.ExpiresAt.Add(-time.Second), true},
		{c.ExpiresAt, true},
		{c.ExpiresAt.Add(DefaultLeeway - time.Nanosecond), true},
		{c.ExpiresAt.Add(DefaultLeeway), false},
		{c.ExpiresAt.Add(time.Hour), false},
	}
	for _, s := range steps {
		fx.clock.Advance(s.to.Sub(fx.clock.Now()))
		_, err := fx.m.Verify(context.Background(), raw)
		if got := err == nil; got != s.want {
			t.Errorf("at exp%+v: got valid=%v (%v), want %v", s.to.Sub(c.ExpiresAt), got, err, s.want)
		}
	}
}

// The alg allow-list is the key's own algorithm: a token naming another
// algorithm for our kid is refused before any signature check, even one
// latch supports (RFC 8725 §3.1; ASVS 5.0 V9.1.2).
func TestVerifyAlgMustMatchKey(t *testing.T) {
	fx := newFixture(t, ES256)
	for _, alg := range []string{EdDSA, RS256, "ES384", "PS256", "HS256", "none", ""} {
		tok := fx.sign(t, with(fx.header(), "alg", alg), fx.claims(t))
		_, err := fx.m.Verify(context.Background(), tok)
		wantInvalid(t, err)
	}
}

// canonicalSegment accepts exactly the strings that are the unpadded
// base64url encoding of some bytes, one spelling per byte string
// (RFC 7515 §2; RFC 4648 §3.5).
func TestCanonicalSegment(t *testing.T) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for n := 1; n <= 6; n++ {
		enc := base64.RawURLEncoding.EncodeToString([]byte("\xff\x00\x7f\x80\x01\xfe"[:n]))
		for _, c := range []byte(alphabet) {
			s := enc[:len(enc)-1] + string(c)
			dec, err := base64.RawURLEncoding.Strict().DecodeString(s)
			want := err == nil && base64.RawURLEncoding.EncodeToString(dec) == s
			if got := canonicalSegment(s); got != want {
				t.Errorf("canonicalSegment(%q) for %d bytes: got %v, want %v", s, n, got, want)
			}
		}
	}
	for _, s := range []string{"", "A", "AAAAA"} {
		if canonicalSegment(s) {
			t.Errorf("canonicalSegment(%q): got true, want false (no byte string encodes to it)", s)
		}
	}
}
