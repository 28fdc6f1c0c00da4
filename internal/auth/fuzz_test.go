package auth

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseEmail: never panics; what it accepts is normalised (trimmed,
// lower-case, idempotent), valid UTF-8, at most 254 bytes, one @-address.
func FuzzParseEmail(f *testing.F) {
	for _, s := range []string{"ada@example.com", " ADA@Example.com ", "a@b", "a@b.c", "Ada <a@b.co>", "a@b.co, c@d.co", "\x00@x.io", "用户@例子.广告", `"a b"@x.io`, "a@[127.0.0.1]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		e, err := ParseEmail(in)
		if err != nil {
			return
		}
		if e != NormalizeEmail(e) || e != strings.ToLower(strings.TrimSpace(in)) {
			t.Fatalf("ParseEmail(%q) = %q is not the normalised input", in, e)
		}
		if !utf8.ValidString(e) || len(e) > maxEmailLen || strings.Count(e, "@") != 1 {
			t.Fatalf("ParseEmail(%q) accepted %q", in, e)
		}
		again, err := ParseEmail(e)
		if err != nil || again != e {
			t.Fatalf("not idempotent: %q → %q, %v", e, again, err)
		}
	})
}
