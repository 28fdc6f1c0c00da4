package password

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// FuzzNormalizeCheck: Check never panics, its length reasons agree with the
// code-point count after NFKC, TooLong never refuses what could fit, and
// Normalize is idempotent (Hash and Verify rely on that, since callers may
// normalise first).
func FuzzNormalizeCheck(f *testing.F) {
	for _, seed := range []struct{ pw, email string }{
		{"", ""},
		{"password1", "a@b.c"},
		{"correct horse battery staple", "alice@example.com"},
		{strings.Repeat("🦊", 8), ""},
		{"cafe\u0301 au lait", "café@example.com"},
		{"\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44", ""},
		{"\u1112\u1161\u11ab\u1100\u116e\u11a8", "x@y"},
		{"\ufdfa\ufdfa", ""},
		{"a\x00b\tc\n", "@"},
		{"\xff\xfe\xc3", "\xff@\xfe"},
		{"e\u0301\u0301\u0301\u0301", ""},
		{strings.Repeat("a", 257), ""},
	} {
		f.Add(seed.pw, seed.email)
	}
	p := DefaultPolicy()
	f.Fuzz(func(t *testing.T, pw, email string) {
		reasons := p.Check(pw, email)
		if p.TooLong(pw) {
			if len(reasons) != 1 || reasons[0].Code != CodeTooLong {
				t.Fatalf("Check(TooLong input) = %v, want only too_long", reasons)
			}
			return
		}
		n := utf8.RuneCountInString(Normalize(pw))
		has := map[string]bool{}
		for _, r := range reasons {
			if r.Code == "" || r.Message == "" {
				t.Fatalf("reason %+v lacks a code or a message", r)
			}
			has[r.Code] = true
		}
		if got, want := has[CodeTooShort], n < p.MinLength; got != want {
			t.Errorf("too_short = %v for %d code points, want %v", got, n, want)
		}
		if got, want := has[CodeTooLong], n > p.MaxLength; got != want {
			t.Errorf("too_long = %v for %d code points, want %v", got, n, want)
		}
		if got, want := has[CodeInvalidUTF8], !utf8.ValidString(pw); got != want {
			t.Errorf("invalid_utf8 = %v, want %v", got, want)
		}
		if len(reasons) == 0 && (n < p.MinLength || n > p.MaxLength) {
			t.Errorf("accepted %d code points, want %d..%d", n, p.MinLength, p.MaxLength)
		}
		if once, twice := Normalize(pw), Normalize(Normalize(pw)); once != twice {
			t.Errorf("Normalize not idempotent: %q then %q", once, twice)
		}
	})
}

// FuzzVerify: the stored-hash parsers never panic, never compute outside the
// bounds, and accept only canonical strings (parse then encode gives the
// input back), so a stored hash has exactly one meaning.
func FuzzVerify(f *testing.F) {
	bc, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		"",
		"$argon2id$",
		refCurrentParams,
		refOtherParams,
		"$argon2id$v=19$m=4000000,t=2,p=1$bGF0Y2h0ZXN0c2FsdDEyMw$ET3ZGKMMGc2XV5CAxrTy1wmyVKgBHlSp5LlF2fUMJ+c",
		"$argon2id$v=19$m=019456,t=2,p=1$bGF0Y2h0ZXN0c2FsdDEyMw$ET3ZGKMMGc2XV5CAxrTy1wmyVKgBHlSp5LlF2fUMJ+c",
		"$argon2id$v=19$m=19456,t=2,p=1$bGF0Y2h0ZXN0c2FsdDEyMw==$ET3ZGKMMGc2XV5CAxrTy1wmyVKgBHlSp5LlF2fUMJ+c",
		"$argon2i$v=19$m=19456,t=2,p=1$bGF0Y2h0ZXN0c2FsdDEyMw$ET3ZGKMMGc2XV5CAxrTy1wmyVKgBHlSp5LlF2fUMJ+c",
		string(bc),
		"$2y$" + string(bc[4:]),
		"$2b$31$" + string(bc[7:]),
	} {
		f.Add(seed)
	}
	h, err := NewHasher(DefaultParams(), Limits{})
	if err != nil {
		f.Fatal(err)
	}
	// The fuzzer explores the parser, not argon2id: the stub checks the
	// bounds a real derivation would run with and returns at once.
	h.derive = func(_, salt []byte, p Params) []byte {
		if p.Memory > maxStoredMemory || p.Time > maxStoredTime || p.Threads > maxStoredThreads ||
			p.Memory < 8*uint32(p.Threads) || p.Time < 1 || p.Threads < 1 || len(salt) < minStoredSaltLen {
			panic("derivation outside the stored-hash bounds")
		}
		return make([]byte, p.KeyLen)
	}
	f.Fuzz(func(t *testing.T, encoded string) {
		if strings.HasPrefix(encoded, argon2idPrefix) {
			if p, salt, key, err := h.parseArgon2id(encoded); err == nil {
				if got := encodeArgon2id(p, salt, key); got != encoded {
					t.Fatalf("parse then encode %q = %q, want the input back", encoded, got)
				}
			}
		}
		// A real bcrypt of high cost would only slow the fuzzer down; the
		// cost bound itself is checked by checkBcrypt before any work.
		if isBcrypt(encoded) && checkBcrypt(encoded) == nil {
			if cost, _ := bcrypt.Cost([]byte(encoded)); cost > bcrypt.MinCost+2 {
				t.Skip("bcrypt cost too high for fuzzing")
			}
		}
		ok, needsRehash, err := h.Verify(context.Background(), "pw", encoded)
		if err != nil && !errors.Is(err, ErrInvalidHash) {
			t.Fatalf("Verify(%q): err = %v, want nil or ErrInvalidHash", encoded, err)
		}
		if err != nil && (ok || needsRehash) {
			t.Fatalf("Verify(%q) = (%v, %v, %v), want false, false with an error", encoded, ok, needsRehash, err)
		}
		if needsRehash && !ok {
			t.Fatalf("Verify(%q): needsRehash without ok", encoded)
		}
	})
}

// FuzzRangeCount: a range answer is untrusted input. Parsing it never
// panics, counts at most one entry per line and no count without an entry,
// and a well-formed line for the suffix is found whatever precedes it.
func FuzzRangeCount(f *testing.F) {
	suffix := upperSHA1(breachedPW)[5:]
	for _, seed := range []string{
		"",
		suffix + ":3",
		strings.ToLower(suffix) + ":0\r\n" + suffix + ":12",
		"<html>\n" + suffix + ":-1\n" + suffix + ":+1\n" + suffix + ": 1",
		strings.Repeat("F", 35) + ":99999999999999999999\r\n\r\n",
		suffix + ":3\x00\n" + suffix + "\r:3",
	} {
		f.Add([]byte(seed), uint16(1))
	}
	f.Fuzz(func(t *testing.T, body []byte, n uint16) {
		count, entries := rangeCount(body, []byte(suffix))
		if count < 0 || entries < 0 || entries > bytes.Count(body, []byte("\n"))+1 {
			t.Fatalf("rangeCount = %d, %d entries for %d lines", count, entries, bytes.Count(body, []byte("\n"))+1)
		}
		if entries == 0 && count != 0 {
			t.Fatalf("rangeCount = %d with no entries", count)
		}
		more := append(append(slices.Clone(body), '\n'), fmt.Sprintf("%s:%d", suffix, n)...)
		count2, entries2 := rangeCount(more, []byte(suffix))
		if count2 != max(count, int(n)) || entries2 != entries+1 {
			t.Fatalf("after appending %s:%d: rangeCount = %d, %d entries; want %d, %d", suffix, n, count2, entries2, max(count, int(n)), entries+1)
		}
	})
}
