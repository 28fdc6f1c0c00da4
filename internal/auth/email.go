package auth

import (
	"net/mail"
	"strings"
	"unicode/utf8"
)

// maxEmailLen is RFC 5321's limit on a forward path (254 usable octets).
const maxEmailLen = 254

// NormalizeEmail trims spaces and lower-cases the address, the stored and
// compared form. It does not validate; see ParseEmail.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// ParseEmail normalises s and checks that it is one plain address
// (local@domain, no display name, no comments), at most 254 bytes.
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
