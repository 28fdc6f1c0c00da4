package token

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchauth/latch/internal/jwstest"
)

// signRawHeader signs claims under a header given as JSON text, so that
// tests can send what no map can hold: repeated members, escapes, spacing.
func (fx *fixture) signRawHeader(t testing.TB, hdr string, claims any) string {
	t.Helper()
	return jwstest.Compact([]byte(hdr), mustJSON(t, claims), signer(t, fx.current().priv))
}

// resign replaces a token's signature.
func resign(tok string, sig []byte) string {
	return tok[:strings.LastIndexByte(tok, '.')+1] + jwstest.Encode(sig)
}

func tokenSignature(t testing.TB, tok string) []byte {
	t.Helper()
	sig, err := b64url.DecodeString(tok[strings.LastIndexByte(tok, '.')+1:])
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// A signature must be exactly as long as the key's: 64 bytes of R||S for
// ES256 (RFC 7518 §3.4: not ASN.1 DER), 64 for Ed25519 (RFC 8037 §3.1),
// the modulus length for RS256 (RFC 8017 §8.2.2).
func TestVerifySignatureLength(t *testing.T) {
	for _, alg := range algs {
		fx := newFixture(t, alg)
		tok := fx.sign(t, fx.header(), fx.claims(t))
		sig := tokenSignature(t, tok)
		if _, err := fx.m.Verify(context.Background(), tok); err != nil {
			t.Fatalf("%s: the untouched token: got %v, want valid", alg, err)
		}
		cases := map[string][]byte{
			"one byte short":         sig[:len(sig)-1],
			"one byte more":          append(bytes.Clone(sig), 0),
			"one byte more in front": append([]byte{0}, sig...),
			"doubled":                append(bytes.Clone(sig), sig...),
			"one byte":               {1},
		}
		if alg == ES256 {
			h := sha256.Sum256([]byte(tok[:strings.LastIndexByte(tok, '.')]))
			der, err := ecdsa.SignASN1(rand.Reader, fx.current().priv.(*ecdsa.PrivateKey), h[:])
			if err != nil {
				t.Fatal(err)
			}
			cases["ASN.1 DER of a valid signature"] = der
		}
		for name, s := range cases {
			t.Run(alg+"/"+name, func(t *testing.T) {
				_, err := fx.m.Verify(context.Background(), resign(tok, s))
				wantInvalid(t, err)
				if !strings.Contains(err.Error(), "signature is") {
					t.Errorf("got %v, want the length refused before any check", err)
				}
			})
		}
	}
}

// r and s outside [1, n−1] are refused (SEC 1 §4.1.4 step 1), even at the
// right length.
func TestVerifyES256ScalarRange(t *testing.T) {
	fx := newFixture(t, ES256)
	tok := fx.sign(t, fx.header(), fx.claims(t))
	sig := tokenSignature(t, tok)
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	n := elliptic.P256().Params().N
	zero := new(big.Int)
	for name, rs := range map[string][2]*big.Int{
		"r zero":       {zero, s},
		"s zero":       {r, zero},
		"r = n":        {n, s},
		"s = n":        {r, n},
		"r = n + 1":    {new(big.Int).Add(n, big.NewInt(1)), s},
		"both maximal": {new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1)), new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := fx.m.Verify(context.Background(), resign(tok, es256Signature(rs[0], rs[1])))
			wantInvalid(t, err)
		})
	}
}

// ECDSA is malleable: (r, n−s) verifies wherever (r, s) does. latch
// accepts both, as go-jose and jwx do and sign (see signingKey.verify):
// refusing high S would refuse half of the tokens other libraries make,
// and latch never identifies a token by its text.
func TestVerifyES256AcceptsHighS(t *testing.T) {
	fx := newFixture(t, ES256)
	n := elliptic.P256().Params().N
	half := new(big.Int).Rsh(n, 1)
	seen := map[bool]bool{}
	for range 8 {
		tok := fx.sign(t, fx.header(), fx.claims(t))
		sig := tokenSignature(t, tok)
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		twin := resign(tok, es256Signature(r, new(big.Int).Sub(n, s)))
		for _, tk := range []string{tok, twin} {
			if _, err := fx.m.Verify(context.Background(), tk); err != nil {
				t.Fatalf("Verify with S %s n/2: got %v, want valid", map[bool]string{true: "above", false: "below"}[s.Cmp(half) > 0], err)
			}
		}
		seen[s.Cmp(half) > 0] = true
	}
	t.Logf("S above n/2 in signatures made here: %v", seen)
}

// es256Signature keeps R and S at 32 bytes each, so that a value with
// leading zero bytes does not shift the other (RFC 7518 §3.4).
func TestES256SignatureLayout(t *testing.T) {
	r, s := big.NewInt(1), new(big.Int).Lsh(big.NewInt(1), 255)
	got := es256Signature(r, s)
	want := make([]byte, 64)
	want[31] = 1
	want[32] = 0x80
	if !bytes.Equal(got, want) {
		t.Errorf("es256Signature(1, 2^255):\n got %x\nwant %x", got, want)
	}
}

// Issue writes signatures of the exact length for every algorithm, and
// the protected header it built once per key.
func TestIssueSignatureLengthAndHeader(t *testing.T) {
	for _, alg := range algs {
		fx := newFixture(t, alg)
		for range 16 {
			raw, _ := mustIssue(t, fx.m, Claims{Subject: "u", SessionID: "s"})
			if got, want := len(tokenSignature(t, raw)), fx.current().sigSize; got != want {
				t.Fatalf("%s signature: got %d bytes, want %d", alg, got, want)
			}
			if !strings.HasPrefix(raw, fx.current().header) {
				t.Fatalf("%s token %q does not start with the key's header %q", alg, raw, fx.current().header)
			}
		}
	}
}

func TestParseHeader(t *testing.T) {
	type want struct {
		alg, kid, typ string
		crit, b64     bool
	}
	many := func(n int) string {
		var b strings.Builder
		b.WriteString(`{"alg":"ES256"`)
		for i := 1; i < n; i++ {
			b.WriteString(`,"m` + strings.Repeat("x", i) + `":0`)
		}
		return b.String() + "}"
	}
	tests := []struct {
		name    string
		in      string
		want    want
		wantErr bool
	}{
		{"latch's header", `{"alg":"ES256","kid":"k1","typ":"at+jwt"}`, want{"ES256", "k1", "at+jwt", false, false}, false},
		{"spacing", " {\n\t\"kid\" : \"k1\" ,\r\n \"alg\":\"EdDSA\" , \"typ\" :\"at+jwt\" } ", want{"EdDSA", "k1", "at+jwt", false, false}, false},
		{"escaped slash in typ", `{"typ":"application\/at+jwt"}`, want{typ: "application/at+jwt"}, false},
		{"escaped member name", `{"\u0061lg":"RS256"}`, want{alg: "RS256"}, false},
		{"other members skipped", `{"jwk":{"alg":"HS256","k":"}\"]{["},"x5c":["a","b\""],"n":-1.5e3,"t":true,"f":false,"z":null,"alg":"ES256"}`, want{alg: "ES256"}, false},
		{"names are case-sensitive", `{"ALG":"none","Kid":"k"}`, want{}, false},
		{"crit and b64 noticed", `{"crit":["b64"],"b64":false}`, want{crit: true, b64: true}, false},
		{"empty object", `{}`, want{}, false},
		{"as many members as allowed", many(maxHeaderMembers), want{alg: "ES256"}, false},

		{"one member too many", many(maxHeaderMembers + 1), want{}, true},
		{"alg twice", `{"alg":"none","alg":"ES256"}`, want{}, true},
		{"alg twice, once escaped", `{"alg":"ES256","\u0061lg":"none"}`, want{}, true},
		{"unknown member twice", `{"x":1,"x":2}`, want{}, true},
		{"alg a number", `{"alg":1}`, want{}, true},
		{"kid null", `{"kid":null}`, want{}, true},
		{"typ an array", `{"typ":["at+jwt"]}`, want{}, true},
		{"array", `["alg","ES256"]`, want{}, true},
		{"string", `"alg"`, want{}, true},
		{"number", `1`, want{}, true},
		{"unterminated", `{"alg":"ES256"`, want{}, true},
		{"trailing text", `{"alg":"ES256"}x`, want{}, true},
		{"two objects", `{}{}`, want{}, true},
		{"trailing comma", `{"alg":"ES256",}`, want{}, true},
		{"single quotes", `{'alg':'ES256'}`, want{}, true},
		{"empty", ``, want{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := parseHeader([]byte(tt.in))
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("parseHeader(%q): got error %v, want error: %v", tt.in, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			got := want{string(h.alg), string(h.kid), string(h.typ), h.crit, h.b64}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("parseHeader(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// Header rules end to end, with the real key's signature, so that only
// the header can make Verify refuse (RFC 7515 §4, §5.2; RFC 8725 §3.1).
func TestVerifyHeaderText(t *testing.T) {
	fx := newFixture(t, ES256)
	kid := fx.current().id
	tests := []struct {
		name  string
		hdr   string
		valid bool
	}{
		{"latch's own order", `{"alg":"ES256","kid":"` + kid + `","typ":"at+jwt"}`, true},
		{"other order and spacing", `{ "typ": "at+jwt", "kid": "` + kid + `", "alg": "ES256" }`, true},
		{"escaped slash in typ", `{"alg":"ES256","kid":"` + kid + `","typ":"application\/at+jwt"}`, true},
		{"unknown members ignored", `{"alg":"ES256","kid":"` + kid + `","typ":"at+jwt","x5c":["MIIB"],"cty":"JWT"}`, true},
		{"alg twice, none first", `{"alg":"none","alg":"ES256","kid":"` + kid + `","typ":"at+jwt"}`, false},
		{"alg twice, none last", `{"alg":"ES256","kid":"` + kid + `","typ":"at+jwt","alg":"none"}`, false},
		{"typ twice", `{"alg":"ES256","kid":"` + kid + `","typ":"at+jwt","typ":"JWT"}`, false},
		{"kid twice", `{"alg":"ES256","kid":"` + kid + `","kid":"` + kid + `","typ":"at+jwt"}`, false},
		{"alg in lower case", `{"alg":"es256","kid":"` + kid + `","typ":"at+jwt"}`, false},
		{"ALG instead of alg", `{"ALG":"ES256","kid":"` + kid + `","typ":"at+jwt"}`, false},
		{"typ with a Unicode look-alike", `{"alg":"ES256","kid":"` + kid + `","typ":"at+jw\u0442"}`, false},
		{"typ with a prefix other than application/", `{"alg":"ES256","kid":"` + kid + `","typ":"text/at+jwt"}`, false},
		{"empty kid", `{"alg":"ES256","kid":"","typ":"at+jwt"}`, false},
		{"header an array", `["ES256"]`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := fx.m.Verify(context.Background(), fx.signRawHeader(t, tt.hdr, fx.claims(t)))
			if tt.valid && err != nil {
				t.Errorf("Verify: got %v, want valid", err)
			}
			if !tt.valid {
				wantInvalid(t, err)
			}
		})
	}
}

func TestDecodeClaims(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Claims
		wantErr bool
	}{
		{"every claim", `{"iss":"i","sub":"s","aud":"a","exp":3,"iat":1,"nbf":2,"jti":"j","client_id":"c","sid":"d","amr":["pwd","otp"],"aal":"aal2","email":"e@x","email_verified":true,"scope":"a b"}`,
			Claims{Issuer: "i", Subject: "s", Audience: []string{"a"}, ExpiresAt: time.Unix(3, 0).UTC(), IssuedAt: time.Unix(1, 0).UTC(), NotBefore: time.Unix(2, 0).UTC(), ID: "j", ClientID: "c", SessionID: "d", AMR: []string{"pwd", "otp"}, AAL: "aal2", Email: "e@x", EmailVerified: true, Scope: "a b"}, false},
		{"aud array", `{"aud":["a","b"]}`, Claims{Audience: []string{"a", "b"}}, false},
		{"empty aud array", `{"aud":[]}`, Claims{Audience: []string{}}, false},
		{"null is absent", `{"iss":null,"aud":null,"exp":null,"amr":null,"email_verified":null}`, Claims{}, false},
		{"escapes", `{"sub":"\u00e9\n\"","email":"a\/b"}`, Claims{Subject: "é\n\"", Email: "a/b"}, false},
		{"invalid UTF-8 replaced as encoding/json does", "{\"sub\":\"a\xffb\"}", Claims{Subject: "a\ufffdb"}, false},
		{"unknown claims skipped, even twice", `{"x":{"sub":"no"},"x":[1,{"a":"]"}],"sub":"yes"}`, Claims{Subject: "yes"}, false},
		{"names are case-sensitive", `{"SUB":"s","Exp":1}`, Claims{}, false},
		{"negative date", `{"exp":-1}`, Claims{ExpiresAt: time.Unix(-1, 0).UTC()}, false},
		{"spacing", " { \"sub\" :\t\"s\" , \"amr\" : [ \"a\" , \"b\" ] }\n", Claims{Subject: "s", AMR: []string{"a", "b"}}, false},

		{"sub twice", `{"sub":"a","sub":"b"}`, Claims{}, true},
		{"exp twice, once null", `{"exp":1,"exp":null}`, Claims{}, true},
		{"fractional exp", `{"exp":1.5}`, Claims{}, true},
		{"exp with an exponent", `{"exp":1e9}`, Claims{}, true},
		{"exp a string", `{"exp":"1"}`, Claims{}, true},
		{"exp beyond int64", `{"exp":9223372036854775808}`, Claims{}, true},
		{"sub a number", `{"sub":1}`, Claims{}, true},
		{"aud a number", `{"aud":1}`, Claims{}, true},
		{"aud holding a number", `{"aud":["a",1]}`, Claims{}, true},
		{"amr a string", `{"amr":"pwd"}`, Claims{}, true},
		{"email_verified a string", `{"email_verified":"true"}`, Claims{}, true},
		{"array", `[]`, Claims{}, true},
		{"not JSON", `{"sub":`, Claims{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeClaims([]byte(tt.in))
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("decodeClaims(%q): got error %v, want error: %v", tt.in, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decodeClaims(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// Claims.UnmarshalJSON is decodeClaims, and reads back what MarshalJSON
// wrote.
func TestClaimsJSONRoundTrip(t *testing.T) {
	in := Claims{Issuer: "i", Subject: "s", Audience: []string{"a"}, ExpiresAt: time.Unix(3, 0).UTC(), IssuedAt: time.Unix(1, 0).UTC(), ID: "j", ClientID: "c", SessionID: "d", AMR: []string{"pwd"}, Email: "é@x", EmailVerified: true}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out Claims
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, out); diff != "" {
		t.Errorf("round trip through %s (-in +out):\n%s", b, diff)
	}
}

// FuzzParseHeader: parseHeader never panics, and what it accepts
// encoding/json reads the same way: an object with no member twice, whose
// alg, kid and typ are the strings parseHeader found.
func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{
		`{"alg":"ES256","kid":"k","typ":"at+jwt"}`,
		`{"alg":"ES256","alg":"none"}`,
		`{"\u0061lg":"x","jwk":{"a":[1,"]}",{"b":null}]},"typ":"application\/at+jwt"}`,
		`{"crit":["b64"],"b64":false}`,
		` { } `,
		`[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseHeader(b)
		if err != nil {
			return
		}
		names, err := memberNames(b)
		if err != nil {
			t.Fatalf("parseHeader accepted %q, which encoding/json does not read as an object: %v", b, err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("parseHeader accepted %q: %v", b, err)
		}
		if len(m) != len(names) {
			t.Fatalf("parseHeader accepted %q, which has a member twice", b)
		}
		for name, got := range map[string][]byte{"alg": h.alg, "kid": h.kid, "typ": h.typ} {
			var want string
			if raw, ok := m[name]; ok {
				if err := json.Unmarshal(raw, &want); err != nil {
					t.Fatalf("parseHeader accepted %q, whose %s is no string", b, name)
				}
			}
			if string(got) != want {
				t.Fatalf("%s in %q: parseHeader got %q, encoding/json %q", name, b, got, want)
			}
		}
		_, crit := m["crit"]
		_, b64 := m["b64"]
		if h.crit != crit || h.b64 != b64 {
			t.Fatalf("crit, b64 in %q: parseHeader got %v, %v; encoding/json %v, %v", b, h.crit, h.b64, crit, b64)
		}
	})
}

// FuzzDecodeClaims: decodeClaims never panics and agrees with
// encoding/json, reading each claim into its Go type, on every object
// whose member names are unique: both accept or both refuse, with the
// same claims.
func FuzzDecodeClaims(f *testing.F) {
	for _, s := range []string{
		`{"iss":"i","sub":"s","aud":["a","b"],"exp":3,"iat":1,"nbf":2,"jti":"j","client_id":"c","sid":"d","amr":["pwd"],"aal":"aal1","email":"e","email_verified":true,"scope":"a"}`,
		`{"aud":"a","exp":1.5}`,
		`{"sub":null,"x":{"sub":1}}`,
		`{"sub":"a","sub":"b"}`,
		`{"exp":"1"}`,
		`[1]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeClaims(b)
		names, nerr := memberNames(b)
		if nerr != nil {
			if err == nil {
				t.Fatalf("decodeClaims accepted %q, which encoding/json does not read as an object: %v", b, nerr)
			}
			return
		}
		unique := map[string]bool{}
		for _, n := range names {
			unique[n] = true
		}
		if len(unique) != len(names) {
			return // decodeClaims refuses known claims twice; encoding/json keeps the last
		}
		want, werr := referenceClaims(b)
		if (err == nil) != (werr == nil) {
			t.Fatalf("%q: decodeClaims error %v, encoding/json error %v", b, err, werr)
		}
		if err == nil {
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("%q (-encoding/json +decodeClaims):\n%s", b, diff)
			}
		}
	})
}

// memberNames returns the member names of the JSON object b, in order and
// with repeats, or an error if b is not one JSON object.
func memberNames(b []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('{') {
		return nil, errors.New("not an object")
	}
	var names []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		names = append(names, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("more after the object")
	}
	return names, nil
}

// referenceClaims decodes claims with encoding/json, one claim at a time
// into its Go type, with the rules decodeClaims documents: exact names,
// null as absent, integer dates, aud as a string or an array of strings.
func referenceClaims(b []byte) (Claims, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return Claims{}, err
	}
	var c Claims
	var errs []error
	str := func(name string, dst *string) {
		if raw, ok := m[name]; ok {
			errs = append(errs, json.Unmarshal(raw, dst))
		}
	}
	date := func(name string, dst *time.Time) {
		var n int64
		if raw, ok := m[name]; ok {
			errs = append(errs, json.Unmarshal(raw, &n))
		}
		*dst = fromNumericDate(n)
	}
	str("iss", &c.Issuer)
	str("sub", &c.Subject)
	str("jti", &c.ID)
	str("client_id", &c.ClientID)
	str("sid", &c.SessionID)
	str("aal", &c.AAL)
	str("email", &c.Email)
	str("scope", &c.Scope)
	date("exp", &c.ExpiresAt)
	date("iat", &c.IssuedAt)
	date("nbf", &c.NotBefore)
	if raw, ok := m["amr"]; ok {
		errs = append(errs, json.Unmarshal(raw, &c.AMR))
	}
	if raw, ok := m["email_verified"]; ok {
		errs = append(errs, json.Unmarshal(raw, &c.EmailVerified))
	}
	if raw, ok := m["aud"]; ok {
		var s string
		if err := json.Unmarshal(raw, &s); err == nil && bytes.HasPrefix(bytes.TrimSpace(raw), []byte(`"`)) {
			c.Audience = []string{s}
		} else {
			errs = append(errs, json.Unmarshal(raw, &c.Audience))
		}
	}
	return c, errors.Join(errs...)
}
