package password

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func codes(rs []Reason) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Code)
	}
	return out
}

func TestPolicyCheck(t *testing.T) {
	const email = "Alice.Smith@Example.com"
	tests := []struct {
		name     string
		password string
		want     []string
		cite     string
	}{
		{"7 ASCII code points", "abcdxyz", []string{CodeTooShort}, "NIST SP 800-63B-4 §3.1.1.2 (minimum 8)"},
		{"8 ASCII code points", "abcdxyzw", nil, "NIST SP 800-63B-4 §3.1.1.2"},
		{"7 emoji (28 bytes)", strings.Repeat("🦊", 7), []string{CodeTooShort}, "length in code points, not bytes"},
		{"8 emoji", strings.Repeat("🦊", 8), nil, "NIST SP 800-63B-4 §3.1.1.2: Unicode accepted, each code point one character"},
		{"8 accented letters, decomposed (16 code points before NFKC)", strings.Repeat("e\u0301", 7) + "x", nil, "length counted after NFKC"},
		{"7 accented letters, decomposed", strings.Repeat("e\u0301", 7), []string{CodeTooShort}, "length counted after NFKC, not before"},
		{"256 code points", strings.Repeat("ab", 128), nil, "DESIGN: 8..256 characters"},
		{"257 code points", strings.Repeat("ab", 128) + "c", []string{CodeTooLong}, "DESIGN: 8..256 characters"},
		{"256 Hangul syllables typed as 768 jamo", strings.Repeat("\u1112\u1161\u11ab", 256), nil, "length counted after NFKC"},
		{"one ligature expanding past the maximum", strings.Repeat("ab", 127) + "\ufdfa", []string{CodeTooLong}, "length counted after NFKC"},
		{"common: password1", "password1", []string{CodeCommon}, "NIST SP 800-63B-4 §3.1.1.2: blocklist of commonly used passwords"},
		{"common: 12345678", "12345678", []string{CodeCommon}, "ASVS 5.0 V6.2: top passwords refused"},
		{"common: qwertyuiop", "qwertyuiop", []string{CodeCommon}, "ASVS 5.0 V6.2"},
		{"common, any case: PassWord1", "PassWord1", []string{CodeCommon}, "blocklist compared case-insensitively"},
		{"common, any case: QWERTYUIOP", "QWERTYUIOP", []string{CodeCommon}, "blocklist compared case-insensitively"},
		{"common, fullwidth digits", "\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18", []string{CodeCommon}, "blocklist compared after NFKC"},
		{"the email", "alice.smith@example.com", []string{CodeMatchesEmail}, "NIST SP 800-63B-4 §3.1.1.2: context-specific words"},
		{"the email, other case", "ALICE.SMITH@EXAMPLE.COM", []string{CodeMatchesEmail}, "emails compared case-insensitively"},
		{"the email's local part", "Alice.Smith", []string{CodeMatchesEmail}, "NIST SP 800-63B-4 §3.1.1.2: context-specific words"},
		{"local part plus more", "alice.smith!x", nil, "only equality is refused"},
		{"no composition rules: lower-case words", "correct horse battery staple", nil, "NIST SP 800-63B-4 §3.1.1.2: no composition rules; ASVS 5.0 V6.2"},
		{"no composition rules: digits only", "90210472", nil, "NIST SP 800-63B-4 §3.1.1.2: no composition rules"},
		{"spaces accepted", "        x", nil, "NIST SP 800-63B-4 §3.1.1.2: spaces acceptable"},
		{"all printing ASCII", " !\"#$%&'()*+,-./0123456789:;<=>?@[\\]^_`{|}~", nil, "NIST SP 800-63B-4 §3.1.1.2: printing characters acceptable"},
		{"tab", "correct\thorse", []string{CodeControlCharacter}, "control characters are not printing characters"},
		{"line break", "correct horse\n", []string{CodeControlCharacter}, "control characters are not printing characters"},
		{"NUL", "correct\x00horse", []string{CodeControlCharacter}, "control characters are not printing characters"},
		{"C1 control", "correct\u0085horse", []string{CodeControlCharacter}, "control characters are not printing characters"},
		{"zero-width joiner in an emoji sequence", "👩\u200d💻👩\u200d💻👩\u200d💻", nil, "Unicode accepted; Cf is not Cc"},
		{"invalid UTF-8", "correct\xffhorse", []string{CodeInvalidUTF8}, "must be text to normalise"},
		{"several at once: short, control", "a\tb", []string{CodeTooShort, CodeControlCharacter}, "every reason at once"},
		{"several at once: invalid, short", "\xff\xfe", []string{CodeInvalidUTF8, CodeTooShort}, "every reason at once"},
		{"empty", "", []string{CodeTooShort}, "minimum 8"},
	}
	p := DefaultPolicy()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := codes(p.Check(tt.password, email))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Check(%q) codes = %v, want %v (%s)", tt.password, got, tt.want, tt.cite)
			}
		})
	}
}

func TestPolicyCheckSeveralReasonsWithEmail(t *testing.T) {
	// A local part that is also short and common.
	got := codes(DefaultPolicy().Check("Dragon", "dragon@example.com"))
	want := []string{CodeTooShort, CodeMatchesEmail}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("codes = %v, want %v", got, want)
	}
	got = codes(DefaultPolicy().Check("Password1", "password1@example.com"))
	want = []string{CodeCommon, CodeMatchesEmail}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("codes = %v, want %v", got, want)
	}
}

func TestPolicyCheckEmailEdgeCases(t *testing.T) {
	tests := []struct {
		name, password, email string
		want                  []string
	}{
		{"no email", "correct horse", "", nil},
		{"email with spaces around", "bob.jones@example.org", "  Bob.Jones@Example.org ", []string{CodeMatchesEmail}},
		{"email without @", "not-an-email", "not-an-email", []string{CodeMatchesEmail}},
		{"quoted local part containing @", "\"a@b\"xyz", "\"a@b\"xyz@example.com", []string{CodeMatchesEmail}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := codes(DefaultPolicy().Check(tt.password, tt.email))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Check(%q, %q) codes = %v, want %v", tt.password, tt.email, got, tt.want)
			}
		})
	}
}

func TestPolicyReasonsHaveMessages(t *testing.T) {
	rs := DefaultPolicy().Check("\xff\t", "x@y")
	rs = append(rs, DefaultPolicy().Check(strings.Repeat("x", 300), "")...)
	rs = append(rs, DefaultPolicy().Check("password1", "password1")...)
	seen := map[string]bool{}
	for _, r := range rs {
		seen[r.Code] = true
		if r.Message == "" {
			t.Errorf("reason %q has no message", r.Code)
		}
	}
	for _, c := range []string{CodeTooShort, CodeTooLong, CodeCommon, CodeMatchesEmail, CodeInvalidUTF8, CodeControlCharacter} {
		if !seen[c] {
			t.Errorf("code %q not produced by any input here, want every code covered", c)
		}
	}
}

// Requirement: a huge input on login costs nothing — TooLong answers from
// the byte length, and Check stops there too.
func TestPolicyTooLong(t *testing.T) {
	p := DefaultPolicy()
	tests := []struct {
		name string
		raw  string
		want bool
	}{
		{"1 MB", strings.Repeat("a", 1<<20), true},
		{"just past the byte bound", strings.Repeat("a", 256*rawBytesPerRune+1), true},
		{"at the byte bound", strings.Repeat("a", 256*rawBytesPerRune), false},
		{"257 ASCII code points: Check refuses, TooLong need not", strings.Repeat("a", 257), false},
		{"256 four-byte emoji", strings.Repeat("🦊", 256), false},
		{"256 Hangul syllables as jamo (2,304 bytes)", strings.Repeat("\u1112\u1161\u11ab", 256), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.TooLong(tt.raw); got != tt.want {
				t.Errorf("TooLong(%d bytes) = %v, want %v", len(tt.raw), got, tt.want)
			}
		})
	}
	if got := codes(p.Check(strings.Repeat("a", 1<<20), "")); !cmp.Equal(got, []string{CodeTooLong}) {
		t.Errorf("Check(1 MB) codes = %v, want [too_long]", got)
	}
}

func TestPolicyZeroValueIsDefault(t *testing.T) {
	for _, pw := range []string{"short", "correct horse battery staple", strings.Repeat("x", 300), "password1"} {
		if got, want := codes(Policy{}.Check(pw, "")), codes(DefaultPolicy().Check(pw, "")); !cmp.Equal(got, want) {
			t.Errorf("Policy{}.Check(%q) = %v, want DefaultPolicy's %v", pw, got, want)
		}
	}
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		p      Policy
		wantOK bool
	}{
		{DefaultPolicy(), true},
		{Policy{}, true},
		{Policy{MinLength: 15, MaxLength: 64}, true},
		{Policy{MinLength: 7}, false},
		{Policy{MaxLength: 63}, false},
		{Policy{MaxLength: 5000}, false},
		{Policy{MinLength: 100, MaxLength: 64}, false},
	}
	for _, tt := range tests {
		if err := tt.p.Validate(); (err == nil) != tt.wantOK {
			t.Errorf("%+v.Validate() = %v, want ok %v", tt.p, err, tt.wantOK)
		}
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"cafe\u0301", "caf\u00e9"},
		{"\uff11\uff12\uff13", "123"},
		{"a\u00a0b", "a b"},
		{"\ufb01", "fi"},
		{"\u2460", "1"},
		{"\u1112\u1161\u11ab", "\ud55c"},
		{"plain ascii", "plain ascii"},
	}
	for _, tt := range tests {
		if got := Normalize(tt.in); got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := Normalize(Normalize(tt.in)); got != tt.want {
			t.Errorf("Normalize(Normalize(%q)) = %q, want %q (idempotent)", tt.in, got, tt.want)
		}
	}
}

// The list's shape is what isCommon's binary search relies on, and what
// SOURCE.md promises.
func TestCommonPasswordsFile(t *testing.T) {
	s := commonPasswords
	if !strings.HasSuffix(s, "\n") {
		t.Fatal("common_passwords.txt does not end with a newline")
	}
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if len(lines) < 10000 {
		t.Errorf("entries = %d, want at least 10000", len(lines))
	}
	if len(s) > 150*1024 {
		t.Errorf("size = %d bytes, want under 150 KiB", len(s))
	}
	for i, l := range lines {
		switch {
		case utf8.RuneCountInString(l) < 8:
			t.Errorf("line %d %q: shorter than 8 code points", i+1, l)
		case l != strings.ToLower(Normalize(l)):
			t.Errorf("line %d %q: not lower-case NFKC", i+1, l)
		case strings.ContainsAny(l, "\r\t"):
			t.Errorf("line %d %q: contains a carriage return or tab", i+1, l)
		case i > 0 && lines[i-1] >= l:
			t.Errorf("line %d %q: not after %q (sorted, unique)", i+1, l, lines[i-1])
		}
		if !isCommon(l) {
			t.Errorf("isCommon(%q) = false for line %d, want true", l, i+1)
		}
	}
	for _, w := range []string{"", "a", "password", "password1 ", " password1", "password10000x", "zzzzzzzzzzzzzzzz", "\x00", "~~~~~~~~"} {
		if isCommon(w) && !strings.Contains("\n"+s, "\n"+w+"\n") {
			t.Errorf("isCommon(%q) = true, want false", w)
		}
	}
}
