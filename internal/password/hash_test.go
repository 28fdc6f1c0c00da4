package password

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// cheapParams keep the many hashes in these tests fast under -race; the
// tests that are about the default parameters use DefaultParams.
var cheapParams = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func newHasher(t testing.TB, p Params, l Limits) *Hasher {
	t.Helper()
	h, err := NewHasher(p, l)
	if err != nil {
		t.Fatalf("NewHasher(%+v, %+v): %v", p, l, err)
	}
	return h
}

func mustHash(t testing.TB, h *Hasher, password string) string {
	t.Helper()
	encoded, err := h.Hash(context.Background(), password)
	if err != nil {
		t.Fatalf("Hash(%q): %v", password, err)
	}
	return encoded
}

// spyDerive records the parameters of every derivation, so tests can tell
// what a call would have computed without timing it.
type spyDerive struct {
	mu    sync.Mutex
	calls []Params
}

func (s *spyDerive) install(h *Hasher) {
	orig := h.derive
	h.derive = func(password, salt []byte, p Params) []byte {
		s.mu.Lock()
		s.calls = append(s.calls, p)
		s.mu.Unlock()
		return orig(password, salt, p)
	}
}

func (s *spyDerive) Calls() []Params {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Params(nil), s.calls...)
}

// Requirement: DESIGN "Passwords and abuse" — argon2id with OWASP's
// parameters (m=19 MiB, t=2, p=1) in PHC string form.
func TestHashPHCFormat(t *testing.T) {
	h := newHasher(t, DefaultParams(), Limits{})
	encoded := mustHash(t, h, "correct horse battery staple")

	// 16-byte salt and 32-byte key in unpadded standard base64: 22 and 43
	// characters.
	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !phc.MatchString(encoded) {
		t.Fatalf("Hash = %q, want a match for %s", encoded, phc)
	}
	p, _, _, err := h.parseArgon2id(encoded)
	if err != nil {
		t.Fatalf("parseArgon2id(%q): %v", encoded, err)
	}
	if p != DefaultParams() {
		t.Errorf("parsed params = %+v, want %+v", p, DefaultParams())
	}
	if again := mustHash(t, h, "correct horse battery staple"); again == encoded {
		t.Errorf("two hashes of one password are both %q, want different salts", encoded)
	}
}

// Vectors from the argon2 reference implementation (Debian package argon2,
// 0~20171227): echo -n "correct horse battery staple" | argon2 SALT -id ... -e.
// They prove the PHC string and the derivation interoperate with it.
const (
	refCurrentParams = "$argon2id$v=19$m=19456,t=2,p=1$bGF0Y2h0ZXN0c2FsdDEyMw$ET3ZGKMMGc2XV5CAxrTy1wmyVKgBHlSp5LlF2fUMJ+c"
	refOtherParams   = "$argon2id$v=19$m=4096,t=3,p=2$b3RoZXJzYWx0$t3gFV3dZt7TMYdlWz8Ip7SsrqJb877WyHT1k/Q215Ms"
)

func TestVerify(t *testing.T) {
	h := newHasher(t, DefaultParams(), Limits{})
	ctx := context.Background()
	const pw = "correct horse battery staple"

	current := mustHash(t, h, pw)
	bcryptHash, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	bcrypt2y := "$2y$" + string(bcryptHash[4:]) // PHP's name for the same algorithm
	cheap := mustHash(t, newHasher(t, cheapParams, Limits{}), pw)

	tests := []struct {
		name            string
		password        string
		encoded         string
		wantOK          bool
		wantNeedsRehash bool
	}{
		{"round trip", pw, current, true, false},
		{"round trip, wrong password", "correct horse battery stapl", current, false, false},
		{"empty password against a real hash", "", current, false, false},
		{"reference implementation, current params", pw, refCurrentParams, true, false},
		{"reference implementation, other params: re-hash", pw, refOtherParams, true, true},
		{"reference implementation, other params, wrong password", "wrong", refOtherParams, false, false},
		{"other params from latch: re-hash", pw, cheap, true, true},
		{"bcrypt $2a$ import: re-hash", pw, string(bcryptHash), true, true},
		{"bcrypt $2y$ import: re-hash", pw, bcrypt2y, true, true},
		{"bcrypt, wrong password: no re-hash", "Correct horse battery staple", string(bcryptHash), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, needsRehash, err := h.Verify(ctx, tt.password, tt.encoded)
			if err != nil {
				t.Fatalf("Verify: err = %v, want nil", err)
			}
			if ok != tt.wantOK || needsRehash != tt.wantNeedsRehash {
				t.Errorf("Verify = (ok %v, needsRehash %v), want (%v, %v)", ok, needsRehash, tt.wantOK, tt.wantNeedsRehash)
			}
		})
	}
}

// Requirement: a malformed or hostile stored hash is an error, never a
// panic, and is refused before any memory or CPU is spent on it.
func TestVerifyInvalidHash(t *testing.T) {
	const salt, key = "c29tZXNhbHQxMjM0NTY3OA", "ET3ZGKMMGc2XV5CAxrTy1wmyVKgBHlSp5LlF2fUMJ+c"
	valid := "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + key
	bcryptHash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	bc := string(bcryptHash)
	argon := func(params string) string { return "$argon2id$v=19$" + params + "$" + salt + "$" + key }

	tests := []struct{ name, encoded string }{
		{"empty", ""},
		{"clear text", "hunter2hunter2"},
		{"argon2i", strings.Replace(valid, "argon2id", "argon2i", 1)},
		{"argon2d", strings.Replace(valid, "argon2id", "argon2d", 1)},
		{"scrypt", "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E"},
		{"version 16", strings.Replace(valid, "v=19", "v=16", 1)},
		{"version missing", strings.Replace(valid, "v=19$", "", 1)},
		{"no key", "$argon2id$v=19$m=19456,t=2,p=1$" + salt},
		{"extra field", valid + "$x"},
		{"trailing dollar", valid + "$"},
		{"prefix only", "$argon2id$"},
		{"hostile memory m=4000000", argon("m=4000000,t=2,p=1")},
		{"memory at uint32 max", argon("m=4294967295,t=2,p=1")},
		{"memory beyond uint32", argon("m=4294967296,t=2,p=1")},
		{"memory below 8 KiB per lane", argon("m=15,t=1,p=2")},
		{"time zero", argon("m=19456,t=0,p=1")},
		{"time hostile", argon("m=19456,t=1000000,p=1")},
		{"threads zero", argon("m=19456,t=2,p=0")},
		{"threads 255", argon("m=65536,t=2,p=255")},
		{"threads beyond uint8", argon("m=65536,t=2,p=256")},
		{"parameters out of order", argon("t=2,m=19456,p=1")},
		{"parameter missing", argon("m=19456,t=2")},
		{"extra keyid parameter", argon("m=19456,t=2,p=1,keyid=a")},
		{"leading zero", argon("m=019456,t=2,p=1")},
		{"plus sign", argon("m=+19456,t=2,p=1")},
		{"minus sign", argon("m=-19456,t=2,p=1")},
		{"empty value", argon("m=,t=2,p=1")},
		{"space", argon("m=19456, t=2,p=1")},
		{"padded salt", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "==$" + key},
		{"line break in key", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + key[:20] + "\r\n" + key[20:]},
		{"URL base64 key", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + strings.ReplaceAll(key, "+", "-")},
		{"non-canonical base64 tail", "$argon2id$v=19$m=19456,t=2,p=1$" + salt[:len(salt)-1] + "R$" + key},
		{"salt too short", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$" + key},
		{"key too short", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$c2hvcnRrZXk"},
		{"huge salt", "$argon2id$v=19$m=19456,t=2,p=1$" + strings.Repeat("A", 10000) + "$" + key},
		{"bcrypt cost 31", bc[:4] + "31" + bc[6:]},
		{"bcrypt cost 15", bc[:4] + "15" + bc[6:]},
		{"bcrypt cost 2", bc[:4] + "02" + bc[6:]},
		{"bcrypt cost not digits", bc[:4] + "1x" + bc[6:]},
		{"bcrypt $2x$", "$2x$" + bc[4:]},
		{"bcrypt $2$", "$2$" + bc[3:]},
		{"bcrypt truncated", bc[:len(bc)-1]},
		{"bcrypt trailing garbage", bc + "x"},
		{"bcrypt bad alphabet", bc[:len(bc)-1] + "+"},
		{"bcrypt prefix only", "$2b$"},
	}
	h := newHasher(t, DefaultParams(), Limits{})
	h.derive = func([]byte, []byte, Params) []byte {
		t.Error("an invalid hash reached argon2id")
		return nil
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, needsRehash, err := h.Verify(context.Background(), "pw", tt.encoded)
			if !errors.Is(err, ErrInvalidHash) {
				t.Errorf("Verify(%q): err = %v, want ErrInvalidHash", tt.encoded, err)
			}
			if ok || needsRehash {
				t.Errorf("Verify(%q) = (ok %v, needsRehash %v), want (false, false)", tt.encoded, ok, needsRehash)
			}
		})
	}
	if s := h.Stats(); s.InFlight != 0 || s.Waiting != 0 {
		t.Errorf("Stats after invalid hashes = %+v, want nothing in flight or waiting", s)
	}
}

// The hasher's own parameters always verify, even above the stored-hash
// bounds, or raising them in configuration would lock every user out.
func TestVerifyOwnParamsAboveStoredBounds(t *testing.T) {
	big := Params{Memory: maxStoredMemory * 2, Time: maxStoredTime + 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	h := newHasher(t, big, Limits{})
	spy := &spyDerive{}
	h.derive = func(_, _ []byte, p Params) []byte {
		spy.mu.Lock()
		spy.calls = append(spy.calls, p)
		spy.mu.Unlock()
		return make([]byte, p.KeyLen)
	}
	encoded := mustHash(t, h, "correct horse battery staple")
	ok, needsRehash, err := h.Verify(context.Background(), "correct horse battery staple", encoded)
	if err != nil || !ok || needsRehash {
		t.Fatalf("Verify = (%v, %v, %v), want (true, false, nil)", ok, needsRehash, err)
	}
	if got := spy.Calls(); len(got) != 2 || got[1] != big {
		t.Errorf("derivations = %+v, want two with %+v", got, big)
	}
}

// Requirement: DESIGN "Passwords and abuse" — Unicode NFKC before hashing,
// so one password typed in any Unicode form verifies.
func TestVerifyNFKC(t *testing.T) {
	h := newHasher(t, cheapParams, Limits{})
	tests := []struct{ name, stored, typed string }{
		{"decomposed é against precomposed", "caf\u00e9 au lait", "cafe\u0301 au lait"},
		{"precomposed é against decomposed", "cafe\u0301 au lait", "caf\u00e9 au lait"},
		{"fullwidth letters and digits", "password2024!", "\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44\uff12\uff10\uff12\uff14\uff01"},
		{"no-break space against space", "open sesame now", "open\u00a0sesame\u00a0now"},
		{"Hangul jamo against syllables", "\ud55c\uad6d\uc5b4 \ube44\ubc00\ubc88\ud638", "\u1112\u1161\u11ab\u1100\u116e\u11a8\u110b\u1165 \u1107\u1175\u1106\u1175\u11af\u1107\u1165\u11ab\u1112\u1169"},
		{"ligature ﬁ against f i", "\ufb01ve fingers", "five fingers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if Normalize(tt.stored) != Normalize(tt.typed) {
				t.Fatalf("Normalize(%q) = %q, Normalize(%q) = %q, want equal", tt.stored, Normalize(tt.stored), tt.typed, Normalize(tt.typed))
			}
			// Callers may normalise before Hash or not: the result verifies
			// either way.
			for _, stored := range []string{tt.stored, Normalize(tt.stored)} {
				encoded := mustHash(t, h, stored)
				for _, typed := range []string{tt.typed, Normalize(tt.typed)} {
					ok, _, err := h.Verify(context.Background(), typed, encoded)
					if err != nil || !ok {
						t.Errorf("Verify(%q) against Hash(%q) = (%v, %v), want (true, nil)", typed, stored, ok, err)
					}
				}
			}
		})
	}
}

// An imported bcrypt hash was made by a system that probably did not
// normalise; a password that NFKC changes must still verify as typed, and
// then be re-hashed.
func TestVerifyBcryptUnnormalised(t *testing.T) {
	h := newHasher(t, cheapParams, Limits{})
	typed := "cafe\u0301 au lait" // e + combining acute, as macOS input gives
	imported, err := bcrypt.GenerateFromPassword([]byte(typed), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	ok, needsRehash, err := h.Verify(context.Background(), typed, string(imported))
	if err != nil || !ok || !needsRehash {
		t.Errorf("Verify = (%v, %v, %v), want (true, true, nil)", ok, needsRehash, err)
	}
}

// Requirement: DESIGN "Passwords and abuse" — unknown email and wrong
// password take the same time: VerifyDummy derives exactly once with the
// hasher's own parameters, as Verify of a current hash does.
func TestVerifyDummy(t *testing.T) {
	h := newHasher(t, cheapParams, Limits{})
	spy := &spyDerive{}
	spy.install(h)
	current := mustHash(t, h, "correct horse battery staple")

	if err := h.VerifyDummy(context.Background(), "correct horse battery staple"); err != nil {
		t.Fatalf("VerifyDummy: %v", err)
	}
	if _, _, err := h.Verify(context.Background(), "wrong password", current); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	calls := spy.Calls()
	if len(calls) != 3 {
		t.Fatalf("derivations = %d, want 3 (Hash, VerifyDummy, Verify)", len(calls))
	}
	if calls[1] != calls[2] || calls[1] != h.Params() {
		t.Errorf("VerifyDummy derived with %+v, Verify with %+v, want both %+v", calls[1], calls[2], h.Params())
	}

	for _, pw := range []string{"", "correct horse battery staple", "\x00", strings.Repeat("x", 4096)} {
		ok, _, err := h.Verify(context.Background(), pw, h.dummy)
		if ok || err != nil {
			t.Errorf("Verify(%q, dummy) = (%v, %v), want (false, nil)", pw, ok, err)
		}
	}
}

func TestNewHasherRefusesBadConfiguration(t *testing.T) {
	ok := DefaultParams()
	tests := []struct {
		name string
		p    Params
		l    Limits
	}{
		{"zero params", Params{}, Limits{}},
		{"time 0", Params{Memory: 19456, Time: 0, Threads: 1, SaltLen: 16, KeyLen: 32}, Limits{}},
		{"threads 0", Params{Memory: 19456, Time: 2, Threads: 0, SaltLen: 16, KeyLen: 32}, Limits{}},
		{"memory below 8 KiB per thread", Params{Memory: 31, Time: 2, Threads: 4, SaltLen: 16, KeyLen: 32}, Limits{}},
		{"salt 8 bytes", Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 8, KeyLen: 32}, Limits{}},
		{"key 8 bytes", Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 8}, Limits{}},
		{"negative concurrency", ok, Limits{Concurrency: -1}},
		{"negative max wait", ok, Limits{MaxWait: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewHasher(tt.p, tt.l); err == nil {
				t.Errorf("NewHasher(%+v, %+v): err = nil, want an error", tt.p, tt.l)
			}
		})
	}
	if _, err := NewHasher(ok, Limits{}); err != nil {
		t.Errorf("NewHasher(DefaultParams, zero Limits): %v, want nil", err)
	}
}
