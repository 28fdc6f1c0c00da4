package auth

import (
	"net/mail"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// maxEmailLen is RFC 5321's limit on a forward path (254 usable octets).
const maxEmailLen = 254

// NormalizeEmail trims spaces and lower-cases the address, the stored and
// compared form. It does not validate; see ParseEmail.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// ParseEmail normalises s and checks that it is one plain address
// (local@domain, no display name, no comments), at most 254 bytes, and,
// when it is not ASCII, one that cannot pass for another address (see
// spoofable).
func ParseEmail(s string) (string, error) {
	e := NormalizeEmail(s)
	switch {
	case e == "":
		return "", invalid("email", "is required")
	case len(e) > maxEmailLen:
		return "", invalid("email", "is longer than 254 characters")
	case !utf8.ValidString(e):
		return "", invalid("email", "is not valid UTF-8")
	}
	if reason := spoofable(e); reason != "" {
		return "", invalid("email", reason)
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Name != "" || a.Address != e {
		return "", invalid("email", "is not a valid email address")
	}
	at := strings.LastIndexByte(e, '@')
	domain := e[at+1:]
	if at < 1 || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.ContainsAny(e, " \t\r\n\"()<>[]\\,;") {
		return "", invalid("email", "is not a valid email address")
	}
	return e, nil
}

// spoofable says why the address e could be shown as, or mistaken for,
// another address, or "" when it cannot. An address is displayed to
// people (the old address's change notice, lists of accounts, the audit
// trail), so what it looks like must be what it is:
//
//   - no code point that is invisible or reorders text: format characters
//     (Cf: bidi controls such as U+202E, zero-width space, joiners, BOM,
//     soft hyphen), other default-ignorable code points (U+034F, Hangul
//     fillers, tags), variation selectors, controls, separators and
//     spaces of any kind, private-use, unassigned code points and U+FFFD
//     (UTS #39 §3.1 identifier profile; IDNA2008 disallows them all);
//   - Unicode normal form C (RFC 6532 §3.1), so that one visible address
//     has one spelling ("ü" and "u" + U+0308 would be two accounts);
//   - each dot-separated label of the local part and of the domain is in
//     one script, or in one of UTS #39's "Highly Restrictive" mixtures
//     (Latin with Han, Hiragana, Katakana, Bopomofo or Hangul) — which
//     refuses the homoglyph mixtures ("pаypal" with Cyrillic а, "gοogle"
//     with Greek ο) and keeps whole-script addresses (all-Cyrillic,
//     all-Greek, Arabic, Japanese) and per-label mixes ("ivan.иванов").
//
// A label wholly in another script that happens to look Latin (all
// Cyrillic "арр") is not caught: that needs UTS #39's confusables data,
// which neither the standard library nor golang.org/x/text carries.
func spoofable(e string) string {
	ascii := true
	for _, r := range e {
		if r >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return "" // ASCII is handled by the address syntax checks
	}
	for _, r := range e {
		if invisible(r) {
			return "holds an invisible, formatting or reserved character (such as a bidi control or a zero-width space)"
		}
	}
	if !norm.NFC.IsNormalString(e) {
		return "is not in Unicode normalisation form C; send the composed form of each character"
	}
	for _, label := range strings.FieldsFunc(e, func(r rune) bool { return r == '.' || r == '@' }) {
		if !oneScript(label) {
			return "mixes writing systems within one part (such as Latin with Cyrillic), as look-alike addresses do"
		}
	}
	return ""
}

// invisible reports whether r is a code point an address may not hold:
// not graphic (Cc, Cf, Cs, Co, unassigned), a space or separator, a
// default-ignorable code point or variation selector, or U+FFFD, which
// stands for bytes that were not text.
func invisible(r rune) bool {
	return !unicode.IsGraphic(r) || unicode.In(r, unicode.Z, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector) ||
		r == utf8.RuneError
}

// oneScript reports whether the scripts of label's characters (Common
// and Inherited ones — digits, punctuation, combining marks — go with any)
// are one script or a Highly Restrictive mixture.
func oneScript(label string) bool {
	var scripts []string
	for _, r := range label {
		s := scriptOf(r)
		if s == "Common" || s == "Inherited" || slices.Contains(scripts, s) {
			continue
		}
		scripts = append(scripts, s)
	}
	if len(scripts) <= 1 {
		return true
	}
	// The mixtures UTS #39 §5.2 allows beside a single script: the ways
	// Japanese, Chinese and Korean are written, with Latin.
	for _, allowed := range [][]string{
		{"Latin", "Han", "Hiragana", "Katakana"},
		{"Latin", "Han", "Bopomofo"},
		{"Latin", "Han", "Hangul"},
	} {
		if !slices.ContainsFunc(scripts, func(s string) bool { return !slices.Contains(allowed, s) }) {
			return true
		}
	}
	return false
}

// scriptOf is the Unicode Script property of r ("Latin", "Cyrillic", ...,
// "Common", "Inherited"); "Unknown" for an unassigned code point.
func scriptOf(r rune) string {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' {
			return "Latin"
		}
		return "Common"
	}
	for name, table := range unicode.Scripts {
		if unicode.Is(table, r) {
			return name
		}
	}
	return "Unknown"
}
