package totp

import (
	"strconv"
	"strings"
)

// URI returns the otpauth:// URI that enrols secret in an authenticator app
// (the Key Uri Format of Google Authenticator, which the other apps follow):
//
//	otpauth://totp/Issuer:account?secret=…&issuer=Issuer&algorithm=SHA1&digits=6&period=30
//
// The issuer names the service (latch's product name) and account the
// person (their email). Both are percent-encoded byte by byte, leaving only
// RFC 3986's unreserved characters as they are, so that a ':' inside either
// cannot be taken for the label's separator, '&', '?' or '#' cannot end a
// parameter, and a space is %20 (some apps show a '+' as it is). With an
// empty issuer the label is the account alone and the issuer parameter is
// left out. The default parameters are spelled out because some apps
// ignore the defaults and others are happier with them.
func URI(issuer, account string, secret []byte) string {
	var b strings.Builder
	b.WriteString("otpauth://totp/")
	if issuer != "" {
		b.WriteString(escape(issuer))
		b.WriteByte(':')
	}
	b.WriteString(escape(account))
	b.WriteString("?secret=")
	b.WriteString(Encode(secret))
	if issuer != "" {
		b.WriteString("&issuer=")
		b.WriteString(escape(issuer))
	}
	b.WriteString("&algorithm=SHA1&digits=")
	b.WriteString(strconv.Itoa(Digits))
	b.WriteString("&period=")
	b.WriteString(strconv.Itoa(Period))
	return b.String()
}

// escape percent-encodes every byte of s but RFC 3986's unreserved
// characters (ALPHA / DIGIT / "-" / "." / "_" / "~"). net/url's escapers
// leave ':' or '&' alone in some positions and write spaces as '+' in
// queries, neither of which is safe here.
func escape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0x0f])
	}
	return b.String()
}
