package totp

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base32"
	"hash"
	mathrand "math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The seeds of RFC 6238 Appendix B: the ASCII digits repeated to the length
// of each hash's output (20, 32 and 64 bytes), as its reference code uses.
const (
	seed20 = "12345678901234567890"
	seed32 = "12345678901234567890123456789012"
	seed64 = "1234567890123456789012345678901234567890123456789012345678901234"
)

// TestRFC6238Vectors checks every row of RFC 6238 Appendix B's table: the
// time step of each time, and the 8-digit code for SHA-1, SHA-256 and
// SHA-512; a 6-digit code is the last six digits of the same truncation, so
// the table also checks the 6-digit codes, including the exported Code.
func TestRFC6238Vectors(t *testing.T) {
	tests := []struct {
		unix                 int64
		step                 string // "Value of T (hex)"
		sha1, sha256, sha512 string
	}{
		{59, "0000000000000001", "94287082", "46119246", "90693936"},
		{1111111109, "00000000023523EC", "07081804", "68084774", "25091201"},
		{1111111111, "00000000023523ED", "14050471", "67062674", "99943326"},
		{1234567890, "000000000273EF07", "89005924", "91819424", "93441116"},
		{2000000000, "0000000003F940AA", "69279037", "90698825", "38618901"},
		{20000000000, "0000000027BC86AA", "65353130", "77737706", "47863826"},
	}
	for _, tt := range tests {
		t.Run(strconv.FormatInt(tt.unix, 10), func(t *testing.T) {
			step := Step(time.Unix(tt.unix, 0))
			wantStep, err := strconv.ParseInt(tt.step, 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			if step != wantStep {
				t.Fatalf("Step(%d) = %X, want %s", tt.unix, step, tt.step)
			}
			for _, alg := range []struct {
				name string
				h    func() hash.Hash
				seed string
				want string
			}{
				{"SHA1", sha1.New, seed20, tt.sha1},
				{"SHA256", sha256.New, seed32, tt.sha256},
				{"SHA512", sha512.New, seed64, tt.sha512},
			} {
				if got := code(alg.h, []byte(alg.seed), step, 8); got != alg.want {
					t.Errorf("%s 8 digits: got %s, want %s", alg.name, got, alg.want)
				}
				if got, want := code(alg.h, []byte(alg.seed), step, 6), alg.want[2:]; got != want {
					t.Errorf("%s 6 digits: got %s, want %s", alg.name, got, want)
				}
			}
			if got, want := Code([]byte(seed20), step), tt.sha1[2:]; got != want {
				t.Errorf("Code: got %s, want %s", got, want)
			}
			if _, ok := Verify([]byte(seed20), tt.sha1[2:], time.Unix(tt.unix, 0), 0); !ok {
				t.Errorf("Verify refused the vector's code %s", tt.sha1[2:])
			}
		})
	}
}

// TestRFC4226Vectors checks the HOTP values of RFC 4226 Appendix D: TOTP is
// HOTP with the time step as the counter, so Code of step c is HOTP of c.
func TestRFC4226Vectors(t *testing.T) {
	want := []string{"755224", "287082", "359152", "969429", "338314",
		"254676", "287922", "162583", "399871", "520489"}
	for c, w := range want {
		if got := Code([]byte(seed20), int64(c)); got != w {
			t.Errorf("count %d: got %s, want %s", c, got, w)
		}
	}
}

// literalHOTP is RFC 4226 §5.3 written as the RFC words it, independently
// of code: HS = HMAC-SHA-1(K, C) with C the 8-byte big-endian counter;
// OffsetBits = low-order 4 bits of HS[19]; P = HS[Offset]..HS[Offset+3];
// Snum = the last 31 bits of P; D = Snum mod 10^Digit, zero-padded.
func literalHOTP(k []byte, counter uint64) string {
	c := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		c[i] = byte(counter & 0xff)
		counter >>= 8
	}
	mac := hmac.New(sha1.New, k)
	mac.Write(c)
	hs := mac.Sum(nil)
	offset := int(hs[19] & 0xf)
	snum := int64(hs[offset]&0x7f)<<24 |
		int64(hs[offset+1]&0xff)<<16 |
		int64(hs[offset+2]&0xff)<<8 |
		int64(hs[offset+3]&0xff)
	d := snum % 1000000
	s := strconv.FormatInt(d, 10)
	return strings.Repeat("0", 6-len(s)) + s
}

// literalTOTP is RFC 6238 §4.2 for times after 1970: T = (unix time - T0) / X
// with integer division, T0 = 0, X = 30.
func literalTOTP(k []byte, unix int64) string {
	return literalHOTP(k, uint64(unix/30))
}

func TestCodeMatchesLiteralRFC4226(t *testing.T) {
	r := mathrand.New(mathrand.NewPCG(1, 2))
	for i := range 2000 {
		secret := make([]byte, 1+r.IntN(100))
		for j := range secret {
			secret[j] = byte(r.Uint32())
		}
		unix := r.Int64N(1 << 40)
		want := literalTOTP(secret, unix)
		now := time.Unix(unix, r.Int64N(1e9))
		if got := Code(secret, Step(now)); got != want {
			t.Fatalf("case %d: secret %x at %d: Code = %s, literal RFC 4226 = %s", i, secret, unix, got, want)
		}
		step, ok := Verify(secret, want, now, 0)
		if !ok || step != unix/30 {
			t.Fatalf("case %d: Verify(literal code) = %d, %v; want %d, true", i, step, ok, unix/30)
		}
	}
}

func TestStep(t *testing.T) {
	tests := []struct {
		t    time.Time
		want int64
	}{
		{time.Unix(0, 0), 0},
		{time.Unix(29, 999999999), 0},
		{time.Unix(30, 0), 1},
		{time.Unix(59, 0), 1},
		{time.Unix(60, 0), 2},
		{time.Unix(-1, 0), -1},
		{time.Unix(-30, 0), -1},
		{time.Unix(-31, 0), -2},
		{time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 5*3600)), time.Date(2026, 1, 1, 22, 4, 5, 0, time.UTC).Unix() / 30},
	}
	for _, tt := range tests {
		if got := Step(tt.t); got != tt.want {
			t.Errorf("Step(%v) = %d, want %d", tt.t, got, tt.want)
		}
	}
}

func TestVerifyWindow(t *testing.T) {
	secret := []byte(seed20)
	now := time.Unix(1_800_000_015, 0) // the middle of a step
	current := Step(now)
	for delta := int64(-3); delta <= 3; delta++ {
		c := Code(secret, current+delta)
		step, ok := Verify(secret, c, now, 0)
		wantOK := delta >= -Skew && delta <= Skew
		if ok != wantOK {
			t.Errorf("step %+d: ok = %v, want %v", delta, ok, wantOK)
		}
		if ok && step != current+delta {
			t.Errorf("step %+d: returned step %d, want %d", delta, step, current+delta)
		}
	}
}

func TestVerifyRefusesReplay(t *testing.T) {
	secret := []byte(seed20)
	now := time.Unix(1_800_000_015, 0)
	current := Step(now)

	step, ok := Verify(secret, Code(secret, current), now, 0)
	if !ok || step != current {
		t.Fatalf("first use: got %d, %v; want %d, true", step, ok, current)
	}
	last := step

	tests := []struct {
		name string
		step int64
		now  time.Time
		want bool
	}{
		{"same code again", current, now, false},
		{"same code again, seconds later", current, now.Add(10 * time.Second), false},
		{"earlier step inside the window", current - 1, now, false},
		{"earlier step, same code later", current - 1, now.Add(-30 * time.Second), false},
		{"next step", current + 1, now, true},
		{"next period's code", current + 1, now.Add(30 * time.Second), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step, ok := Verify(secret, Code(secret, tt.step), tt.now, last)
			if ok != tt.want {
				t.Fatalf("ok = %v, want %v", ok, tt.want)
			}
			if ok && step != tt.step {
				t.Fatalf("step = %d, want %d", step, tt.step)
			}
		})
	}

	// After the code of the next step, the current one is refused too
	// although it is still inside the window.
	next, ok := Verify(secret, Code(secret, current+1), now, last)
	if !ok {
		t.Fatal("next step refused")
	}
	if _, ok := Verify(secret, Code(secret, current), now, next); ok {
		t.Fatal("an older code was accepted after a newer one")
	}
}

func TestVerifyInput(t *testing.T) {
	secret := []byte(seed20)
	now := time.Unix(59, 0)
	good := Code(secret, Step(now)) // "287082"
	tests := []struct {
		name string
		code string
		want bool
	}{
		{"plain", good, true},
		{"spaces inside", good[:3] + " " + good[3:], true},
		{"spaces around", "  " + good + " ", true},
		{"space between each digit", strings.Join(strings.Split(good, ""), " "), true},
		{"empty", "", false},
		{"only spaces", "      ", false},
		{"five digits", good[:5], false},
		{"seven digits", good + "0", false},
		{"eight digits", "94287082", false},
		{"letter", good[:5] + "a", false},
		{"sign", "+" + good, false},
		{"minus", "-" + good[1:], false},
		{"dash", good[:3] + "-" + good[3:], false},
		{"tab", good[:3] + "\t" + good[3:], false},
		{"newline", good + "\n", false},
		{"full-width digits", "２８７０８２", false},
		{"arabic-indic digits", "٢٨٧٠٨٢", false},
		{"NUL", good[:5] + "\x00", false},
		{"invalid UTF-8", good[:5] + "\xff", false},
		{"long", good + strings.Repeat(" ", 100), false},
		{"wrong code", "000000", good == "000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, ok := Verify(secret, tt.code, now, 0); ok != tt.want {
				t.Fatalf("Verify(%q) ok = %v, want %v", tt.code, ok, tt.want)
			}
		})
	}
	if _, ok := Verify(nil, good, now, 0); ok {
		t.Error("Verify with an empty secret accepted a code")
	}
}

func TestSecret(t *testing.T) {
	a, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != SecretSize || len(b) != SecretSize {
		t.Fatalf("lengths %d and %d, want %d", len(a), len(b), SecretSize)
	}
	if string(a) == string(b) {
		t.Fatal("two secrets are equal")
	}
	enc := Encode(a)
	if len(enc) != 32 || strings.ContainsAny(enc, "= ") {
		t.Fatalf("Encode = %q, want 32 base32 characters without padding", enc)
	}
	back, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(enc)
	if err != nil || string(back) != string(a) {
		t.Fatalf("Encode does not decode back: %v", err)
	}
}

func TestEncode(t *testing.T) {
	tests := []struct {
		secret, plain, grouped string
	}{
		{seed20, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ"},
		{"Hello!\xde\xad\xbe\xef", "JBSWY3DPEHPK3PXP", "JBSW Y3DP EHPK 3PXP"},
		{"f", "MY", "MY"},
		{"foob", "MZXW6YQ", "MZXW 6YQ"},
		{"", "", ""},
	}
	for _, tt := range tests {
		if got := Encode([]byte(tt.secret)); got != tt.plain {
			t.Errorf("Encode(%q) = %q, want %q", tt.secret, got, tt.plain)
		}
		if got := EncodeGrouped([]byte(tt.secret)); got != tt.grouped {
			t.Errorf("EncodeGrouped(%q) = %q, want %q", tt.secret, got, tt.grouped)
		}
	}
}
