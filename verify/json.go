package verify

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A scanner reads the small, flat JSON objects of a JWS header and an
// access-token claim set (RFC 8259). It exists because encoding/json costs
// more than the signature check it follows (about a sixth of an RS256
// verification) and matches member names case-insensitively, while JOSE
// names are case-sensitive. It accepts less than encoding/json: invalid
// UTF-8, lone surrogates and nesting deeper than maxDepth are refused.
// Values are substrings of the input wherever no escape needs decoding,
// so reading a claim set allocates almost nothing.
type scanner struct {
	s string
	i int
}

// maxDepth bounds the nesting of values that are skipped unread; a
// claim set needs two levels, and a bound keeps recursion shallow.
const maxDepth = 16

// maxMembers bounds the members of one object, so that the cost of
// reading a token stays linear in its size however it is shaped.
const maxMembers = 64

func (p *scanner) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// consume skips whitespace and then c; it reports whether c was there.
func (p *scanner) consume(c byte) bool {
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// peek skips whitespace and returns the next byte, or 0 at the end.
func (p *scanner) peek() byte {
	p.ws()
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

// object reads one object, calling member for each member name with the
// scanner positioned before the value, which member must consume. It
// reports false on malformed input or when member does.
func (p *scanner) object(member func(name string) bool) bool {
	if !p.consume('{') {
		return false
	}
	if p.consume('}') {
		return true
	}
	for n := 0; ; n++ {
		if n == maxMembers || p.peek() != '"' {
			return false
		}
		name, ok := p.str()
		if !ok || !p.consume(':') || !member(name) {
			return false
		}
		if p.consume('}') {
			return true
		}
		if !p.consume(',') {
			return false
		}
	}
}

// end reports whether only whitespace is left.
func (p *scanner) end() bool {
	p.ws()
	return p.i == len(p.s)
}

// null consumes a null literal if one comes next.
func (p *scanner) null() bool {
	if p.peek() == 'n' && strings.HasPrefix(p.s[p.i:], "null") {
		p.i += len("null")
		return true
	}
	return false
}

// str reads a string value.
func (p *scanner) str() (string, bool) {
	if !p.consume('"') {
		return "", false
	}
	start := p.i
	for p.i < len(p.s) {
		switch c := p.s[p.i]; {
		case c == '"':
			p.i++
			return p.s[start : p.i-1], true
		case c == '\\':
			return p.escaped(start)
		case c < 0x20:
			return "", false
		}
		p.i++
	}
	return "", false
}

// escaped finishes a string from start whose first escape is at p.i.
func (p *scanner) escaped(start int) (string, bool) {
	b := []byte(p.s[start:p.i])
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return string(b), true
		case c < 0x20:
			return "", false
		case c != '\\':
			b = append(b, c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.s) {
			return "", false
		}
		e := p.s[p.i+1]
		p.i += 2
		switch e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", false
			}
			if utf16.IsSurrogate(r) {
				// Only a high surrogate followed by an escaped low one
				// names a character; anything else cannot be UTF-8.
				if r >= 0xdc00 || !strings.HasPrefix(p.s[p.i:], `\u`) {
					return "", false
				}
				p.i += 2
				lo, ok := p.hex4()
				if !ok {
					return "", false
				}
				if r = utf16.DecodeRune(r, lo); r == utf8.RuneError {
					return "", false
				}
			}
			b = utf8.AppendRune(b, r)
		default:
			return "", false
		}
	}
	return "", false
}

func (p *scanner) hex4() (rune, bool) {
	if p.i+4 > len(p.s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(p.s[p.i : p.i+4]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	p.i += 4
	return r, true
}

// number reads a number value.
func (p *scanner) number() (float64, bool) {
	p.ws()
	start := p.i
	if p.i < len(p.s) && p.s[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.s) && p.s[p.i] == '0':
		p.i++
	case !p.digits():
		return 0, false
	}
	if p.i < len(p.s) && p.s[p.i] == '.' {
		p.i++
		if !p.digits() {
			return 0, false
		}
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if !p.digits() {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(p.s[start:p.i], 64)
	return f, err == nil
}

// digits consumes one or more decimal digits.
func (p *scanner) digits() bool {
	start := p.i
	for p.i < len(p.s) && '0' <= p.s[p.i] && p.s[p.i] <= '9' {
		p.i++
	}
	return p.i > start
}

// boolean reads true or false.
func (p *scanner) boolean() (bool, bool) {
	switch p.peek() {
	case 't':
		if strings.HasPrefix(p.s[p.i:], "true") {
			p.i += len("true")
			return true, true
		}
	case 'f':
		if strings.HasPrefix(p.s[p.i:], "false") {
			p.i += len("false")
			return false, true
		}
	}
	return false, false
}

// strs reads a string or an array of strings, as aud and amr may be
// written; null reads as nil.
func (p *scanner) strs(single bool) ([]string, bool) {
	switch p.peek() {
	case 'n':
		return nil, p.null()
	case '"':
		if !single {
			return nil, false
		}
		s, ok := p.str()
		if !ok {
			return nil, false
		}
		return []string{s}, true
	}
	if !p.consume('[') {
		return nil, false
	}
	out := []string{}
	if p.consume(']') {
		return out, true
	}
	for len(out) < maxMembers {
		s, ok := p.str()
		if !ok {
			return nil, false
		}
		out = append(out, s)
		if p.consume(']') {
			return out, true
		}
		if !p.consume(',') {
			return nil, false
		}
	}
	return nil, false
}

// skip reads and discards any one value, checking its syntax.
func (p *scanner) skip(depth int) bool {
	if depth > maxDepth {
		return false
	}
	switch c := p.peek(); {
	case c == '"':
		_, ok := p.str()
		return ok
	case c == '{':
		return p.object(func(string) bool { return p.skip(depth + 1) })
	case c == '[':
		p.i++
		if p.consume(']') {
			return true
		}
		for range maxMembers {
			if !p.skip(depth + 1) {
				return false
			}
			if p.consume(']') {
				return true
			}
			if !p.consume(',') {
				return false
			}
		}
		return false
	case c == 't' || c == 'f':
		_, ok := p.boolean()
		return ok
	case c == 'n':
		return p.null()
	default:
		_, ok := p.number()
		return ok
	}
}
