package verify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"

	josejson "github.com/go-jose/go-jose/v4/json"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/latchauth/latch/internal/jwstest"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// RFC 8259 and RFC 7519 §4: the claim-set reader against inputs that a
// general JSON parser would read differently or not at all.
func TestParseClaims(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
		want Claims
	}{
		{name: "empty object", in: `{}`, ok: true},
		{name: "whitespace", in: " \t\r\n{ \"sub\" : \"u\" , \"aud\" :[ \"a\" , \"b\" ] }\n", ok: true, want: Claims{Subject: "u", Audience: []string{"a", "b"}}},
		{name: "escapes", in: `{"sub":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00"}`, ok: true, want: Claims{Subject: "a\"b\\c/d\b\f\n\r\té😀"}},
		{name: "escaped name", in: `{"\u0073ub":"u"}`, ok: true, want: Claims{Subject: "u"}},
		{name: "numbers", in: `{"exp":1.5e9,"iat":0,"nbf":1700000000.25}`, ok: true, want: Claims{
			ExpiresAt: time.Unix(1.5e9, 0).UTC(), IssuedAt: time.Unix(0, 0).UTC(), NotBefore: time.Unix(1700000000, 250e6).UTC()}},
		{name: "unknown members of every kind", in: `{"x":{"y":[1,true,false,null,"s",{"z":-0.5e-3}]},"sub":"u"}`, ok: true, want: Claims{Subject: "u"}},
		{name: "email_verified false", in: `{"email_verified":false}`, ok: true},
		{name: "nulls", in: `{"sub":null,"aud":null,"exp":null,"amr":null,"email_verified":null}`, ok: true},
		{name: "duplicate unknown names", in: `{"x":1,"x":2}`, ok: true},

		{name: "duplicate sub", in: `{"sub":"a","sub":"b"}`},
		{name: "duplicate via escape", in: `{"sub":"a","\u0073ub":"b"}`},
		{name: "case variant is not the claim", in: `{"SUB":"a"}`, ok: true},
		{name: "not an object", in: `[]`},
		{name: "null document", in: `null`},
		{name: "trailing garbage", in: `{} {}`},
		{name: "trailing comma", in: `{"sub":"u",}`},
		{name: "missing colon", in: `{"sub" "u"}`},
		{name: "single quotes", in: `{'sub':'u'}`},
		{name: "unquoted name", in: `{sub:"u"}`},
		{name: "control character in string", in: "{\"sub\":\"a\x01b\"}"},
		{name: "bad escape", in: `{"sub":"\x41"}`},
		{name: "short unicode escape", in: `{"sub":"\u00e"}`},
		{name: "lone high surrogate", in: `{"sub":"\ud83d"}`},
		{name: "lone low surrogate", in: `{"sub":"\ude00"}`},
		{name: "high surrogate then non-surrogate", in: `{"sub":"\ud83d\u0041"}`},
		{name: "invalid UTF-8", in: "{\"sub\":\"\xff\"}"},
		{name: "unterminated string", in: `{"sub":"u`},
		{name: "leading zero", in: `{"exp":01}`},
		{name: "plus sign", in: `{"exp":+1}`},
		{name: "bare dot", in: `{"exp":1.}`},
		{name: "bare exponent", in: `{"exp":1e}`},
		{name: "hex", in: `{"exp":0x10}`},
		{name: "NaN", in: `{"exp":NaN}`},
		{name: "huge", in: `{"exp":1e400}`},
		{name: "negative date", in: `{"exp":-1}`},
		{name: "date past 9999", in: `{"exp":253402300800}`},
		{name: "exp as string", in: `{"exp":"1"}`},
		{name: "sub as number", in: `{"sub":1}`},
		{name: "aud as object", in: `{"aud":{}}`},
		{name: "aud with a number", in: `{"aud":["a",1]}`},
		{name: "aud with a null", in: `{"aud":["a",null]}`},
		{name: "amr as a string", in: `{"amr":"pwd"}`},
		{name: "email_verified as string", in: `{"email_verified":"true"}`},
		{name: "truncated literal", in: `{"email_verified":tru}`},
		{name: "literal with tail", in: `{"email_verified":truex}`},
		{name: "deep nesting", in: `{"x":` + strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1) + `}`},
		{name: "too many members", in: `{` + strings.Repeat(`"x":1,`, maxMembers) + `"y":1}`},
		{name: "too many aud entries", in: `{"aud":[` + strings.Repeat(`"a",`, maxMembers) + `"a"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseClaims(tt.in)
			if ok != tt.ok {
				t.Fatalf("parseClaims(%q): ok = %v, want %v", tt.in, ok, tt.ok)
			}
			if !ok {
				return
			}
			if diff := cmp.Diff(&tt.want, got, ignorePayload, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("parseClaims(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// oracleClaims is the claim set as go-jose's JSON package reads it:
// encoding/json with case-sensitive names and duplicates refused.
type oracleClaims struct {
	Iss           string          `json:"iss"`
	Sub           string          `json:"sub"`
	Aud           json.RawMessage `json:"aud"`
	Exp           *float64        `json:"exp"`
	Iat           *float64        `json:"iat"`
	Nbf           *float64        `json:"nbf"`
	Jti           string          `json:"jti"`
	ClientID      string          `json:"client_id"`
	Sid           string          `json:"sid"`
	AMR           []string        `json:"amr"`
	AAL           string          `json:"aal"`
	AuthTime      *float64        `json:"auth_time"`
	Email         string          `json:"email"`
	EmailVerified bool            `json:"email_verified"`
	Scope         string          `json:"scope"`
}

// FuzzParseClaims checks parseClaims against an independent JSON parser:
// whatever it accepts, go-jose's encoding/json fork must accept too and
// read the same claims (RFC 8259; RFC 7519 §4 for duplicates).
func FuzzParseClaims(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"sub":"u","aud":"a","exp":1700000000,"amr":["pwd"],"email_verified":true}`, `{"auth_time":1699999000}`,
		`{"aud":["a","b"],"nbf":1.5,"x":{"y":[null,false]}}`, `{"sub":"\u00e9\ud83d\ude00\n"}`,
		`{"exp":null,"scope":"a b"}`, `{"iss":"x","iss":"y"}`, `{"a":1e3,"b":-0.0}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, ok := parseClaims(in)
		if !ok {
			return
		}
		var o oracleClaims
		if err := josejson.Unmarshal([]byte(in), &o); err != nil {
			if strings.Contains(err.Error(), "duplicate key") {
				return // a duplicate member parseClaims skips unread
			}
			t.Fatalf("parseClaims accepted %q, go-jose/json refused it: %v", in, err)
		}
		want := Claims{
			Issuer: o.Iss, Subject: o.Sub, ID: o.Jti, ClientID: o.ClientID, SessionID: o.Sid,
			AMR: o.AMR, AAL: o.AAL, Email: o.Email, EmailVerified: o.EmailVerified, Scope: o.Scope,
		}
		for _, d := range []struct {
			src *float64
			dst *time.Time
		}{{o.Exp, &want.ExpiresAt}, {o.Iat, &want.IssuedAt}, {o.Nbf, &want.NotBefore}, {o.AuthTime, &want.AuthTime}} {
			if d.src != nil {
				*d.dst = fromNumericDate(*d.src)
			}
		}
		var one string
		switch {
		case len(o.Aud) == 0 || string(o.Aud) == "null":
		case json.Unmarshal(o.Aud, &one) == nil:
			want.Audience = []string{one}
		default:
			if err := json.Unmarshal(o.Aud, &want.Audience); err != nil {
				t.Fatalf("aud %s: %v", o.Aud, err)
			}
		}
		if diff := cmp.Diff(&want, got, ignorePayload, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("parseClaims(%q) differs from go-jose/json (-json +parseClaims):\n%s", in, diff)
		}
	})
}

// RFC 7515 §4: what parseHeader keeps and refuses.
func TestParseHeader(t *testing.T) {
	tests := []struct {
		in   string
		ok   bool
		want header
	}{
		{`{"alg":"ES256","kid":"k","typ":"at+jwt"}`, true, header{"ES256", "k", "at+jwt"}},
		{`{"typ":"at+jwt","jku":"https://x","jwk":{"kty":"EC"},"x5c":["AAAA"],"x5u":"https://x","alg":"EdDSA"}`, true, header{alg: "EdDSA", typ: "at+jwt"}},
		{`{}`, true, header{}},
		{`{"alg":"ES256","crit":["exp"]}`, false, header{}},
		{`{"alg":"ES256","crit":null}`, false, header{}},
		{`{"alg":"ES256","b64":true}`, false, header{}},
		{`{"alg":"ES256","alg":"ES256"}`, false, header{}},
		{`{"kid":"a","kid":"a"}`, false, header{}},
		{`{"alg":null}`, false, header{}},
		{`{"alg":["ES256"]}`, false, header{}},
		{"{\"kid\":\"\xc3\"}", false, header{}},
		{`{"alg":"ES256"}x`, false, header{}},
	}
	for _, tt := range tests {
		got, ok := parseHeader(tt.in)
		if ok != tt.ok || ok && got != tt.want {
			t.Errorf("parseHeader(%s) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// RFC 7515 §2 and RFC 4648 §5: checkSegment plus the strict decoder
// accept exactly the canonical unpadded base64url encodings.
func FuzzSegment(f *testing.F) {
	for _, s := range []string{"", "A", "AA", "AB", "AAA", "AAB", "AAAA", "eyJhbGciOiJFUzI1NiJ9", "a+b/", "AA==", "A\nA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, seg string) {
		b, ok := []byte(nil), checkSegment(seg)
		if ok {
			b, ok = decodeSegment(nil, []byte(seg))
		}
		dec, err := base64.RawURLEncoding.DecodeString(seg)
		canonical := err == nil && len(seg) > 0 && base64.RawURLEncoding.EncodeToString(dec) == seg
		if ok != canonical {
			t.Fatalf("segment %q: accepted = %v, canonical = %v", seg, ok, canonical)
		}
		if ok && string(b) != string(dec) {
			t.Fatalf("segment %q: decoded %x, want %x", seg, b, dec)
		}
	})
}

// RFC 7518 §3.4: r||s becomes the DER that crypto/ecdsa reads, for the
// edge cases of DER INTEGER encoding.
func TestECDSADER(t *testing.T) {
	max := strings.Repeat("\xff", 32)
	zero := strings.Repeat("\x00", 32)
	half := "\x00" + strings.Repeat("\x80", 31)
	for _, rs := range []string{zero + zero, max + max, half + max, zero + half, "\x01" + zero[1:] + "\x7f" + zero[1:]} {
		var b cryptobyte.Builder
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1BigInt(new(big.Int).SetBytes([]byte(rs[:32])))
			b.AddASN1BigInt(new(big.Int).SetBytes([]byte(rs[32:])))
		})
		want := b.BytesOrPanic()
		if got := ecdsaDER(nil, []byte(rs)); string(got) != string(want) {
			t.Errorf("ecdsaDER(%x) = %x, want %x", rs, got, want)
		}
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k := &key{alg: ES256, ec: &priv.PublicKey}
	for i := range 50 {
		msg := []byte{byte(i)}
		sig, err := jwstest.Sign(priv, msg)
		if err != nil {
			t.Fatal(err)
		}
		if !k.verify(msg, sig) {
			t.Fatalf("signature %x did not verify", sig)
		}
	}
}
