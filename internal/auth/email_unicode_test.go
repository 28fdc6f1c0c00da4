package auth

import "testing"

// An address is shown to people — in the old address's change notice,
// in lists of accounts, in the audit trail — so it must not be able to
// look like another one: bidi controls (U+202E made an address render
// reversed in the change notice), zero-width and other format or
// default-ignorable code points are refused, as are text not in Unicode
// normal form C (two spellings of one visible address) and labels mixing
// scripts the way homoglyph attacks do (Latin with Cyrillic or Greek).
// UTS #39 §5.2 (Highly Restrictive), UTS #55 (source-code spoofing, bidi),
// RFC 6532 §3.1 (NFC), RFC 5893 / RFC 5891 §4.2 (IDNA: no bidi controls,
// no disallowed code points), OWASP ASVS 5.0 V1.2.x / V2.2.1 (input
// validated against what the field may hold).
func TestParseEmailRefusesSpoofing(t *testing.T) {
	bad := map[string]string{
		"right-to-left override":         "ada\u202e@example.com",
		"RLO in the domain":              "ada@exa\u202emple.com",
		"left-to-right mark":             "ada\u200e@example.com",
		"bidi isolate":                   "\u2067ada@example.com",
		"arabic letter mark":             "ada\u061c@example.com",
		"zero-width space":               "ad\u200ba@example.com",
		"zero-width joiner":              "ada@exam\u200dple.com",
		"zero-width non-joiner":          "ada\u200c@example.com",
		"word joiner":                    "ada\u2060@example.com",
		"byte order mark":                "\ufeffada@example.com",
		"soft hyphen":                    "ad\u00ada@example.com",
		"combining grapheme joiner":      "ada\u034f@example.com",
		"variation selector":             "ada\ufe0f@example.com",
		"hangul filler":                  "ada\u3164@example.com",
		"tag character":                  "ada\U000e0061@example.com",
		"no-break space":                 "ada\u00a0b@example.com",
		"ideographic space":              "ada\u3000b@example.com",
		"line separator":                 "ada\u2028@example.com",
		"private use":                    "ada\ue000@example.com",
		"unassigned":                     "ada\U000e0fff@example.com",
		"replacement character":          "ada\ufffd@example.com",
		"not NFC (u + combining umlaut)": "ju\u0308rgen@example.com",
		"Cyrillic а in a Latin local":    "p\u0430ypal@example.com",
		"Cyrillic о in a Latin domain":   "ada@g\u043eogle.com",
		"Greek ο in a Latin domain":      "ada@g\u03bfogle.com",
		"Latin a in a Cyrillic label":    "ada@пример.рa",
		"Cyrillic and Greek":             "\u0430\u03b1@example.com",
	}
	for name, in := range bad {
		if got, err := ParseEmail(in); err == nil {
			t.Errorf("%s: ParseEmail(%+q) = %q, want an error", name, in, got)
		}
	}
	good := map[string]string{
		"all-Cyrillic":                        "иван@пример.рф",
		"all-Greek":                           "ελένη@παράδειγμα.ελ",
		"German umlaut":                       "jürgen@müller.de",
		"Latin local, IDN domain":             "ada@bücher.example",
		"Cyrillic local, Latin domain":        "иван@example.com",
		"one script per label":                "ivan.иванов@example.com",
		"Japanese: Han, Hiragana, Katakana":   "山田たろウ@例え.jp",
		"Latin with Han (Highly Restrictive)": "tanaka山田@example.jp",
		"Korean with Han":                     "김철수金@example.kr",
		"digits and punctuation":              "a.b-c_d+1@x-1.example.com",
		"Arabic":                              "محمد@مثال.مصر",
		"Devanagari with its vowel signs":     "राम@उदाहरण.भारत",
	}
	for name, in := range good {
		if got, err := ParseEmail(in); err != nil || got != in {
			t.Errorf("%s: ParseEmail(%+q) = %q, %v; want it accepted as is", name, in, got, err)
		}
	}
}
