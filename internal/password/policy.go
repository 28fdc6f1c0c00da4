package password

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Normalize returns password in Unicode Normalization Form KC, so that the
// same password typed on different keyboards, input methods or operating
// systems (precomposed "é" or e + U+0301, fullwidth or ASCII digits, a
// no-break space or a space) hashes to the same value. It is idempotent.
// Hash, Verify and Check call it themselves; it is exported for callers that
// must compare or store a password in the form latch hashes.
func Normalize(password string) string {
	return norm.NFKC.String(password)
}

// Reason codes, stable: clients and translations key on them. Never rename
// one; add new ones instead.
const (
	// CodeTooShort: fewer code points than Policy.MinLength after NFKC.
	CodeTooShort = "too_short"
	// CodeTooLong: more code points than Policy.MaxLength after NFKC.
	CodeTooLong = "too_long"
	// CodeCommon: in the list of most common passwords, ignoring case.
	CodeCommon = "common"
	// CodeMatchesEmail: the account's email, or its local part, ignoring
	// case.
	CodeMatchesEmail = "matches_email"
	// CodeInvalidUTF8: not valid UTF-8, so not text that can be normalised
	// or typed again.
	CodeInvalidUTF8 = "invalid_utf8"
	// CodeControlCharacter: contains a control character (Unicode Cc: C0,
	// DEL, C1), such as a tab or a line break.
	CodeControlCharacter = "control_character"
	// CodeBreached: seen in a data breach, per Policy.Breached (only from
	// CheckContext).
	CodeBreached = "breached"
	// CodeBreachCheckUnavailable: Policy.Breached could not consult its
	// corpus and fails closed (only from CheckContext). The password may be
	// fine; trying again later may succeed.
	CodeBreachCheckUnavailable = "breach_check_unavailable"
)

const (
	breachedMessage               = "Password has appeared in a data breach; choose another."
	breachCheckUnavailableMessage = "Password could not be checked against known data breaches; try again later."
)

// Reason is one ground for refusing a password: a stable machine code and a
// sentence for a human, ready for the weak_password answer's reasons list.
type Reason struct {
	// Code is one of the Code* constants.
	Code string `json:"code"`
	// Message says what to change, in English, for a person.
	Message string `json:"message"`
}

// Policy is what latch requires of a new password, following NIST SP
// 800-63B-4 §3.1.1.2 and OWASP ASVS 5.0 V6.2: a length range counted in
// Unicode code points after NFKC, no common passwords, not the email,
// optionally none seen in a data breach (Breached) — and no composition
// rules (no required digits, symbols or mixed case), no character-class
// bans: all printing characters, spaces and any Unicode are accepted.
//
// Beyond NIST it refuses two things that cannot be a password a person can
// type again: invalid UTF-8 (NFKC, and so hashing, is undefined on it) and
// control characters (Cc), which NIST's "printing characters and space"
// excludes and which in practice come from pasting a line break or tab.
//
// The zero Policy is DefaultPolicy.
type Policy struct {
	// MinLength is the fewest code points allowed; 0 means 8.
	MinLength int
	// MaxLength is the most code points allowed; 0 means 256.
	MaxLength int
	// Breached, when not nil, is the breached-password check CheckContext
	// runs after the local checks pass (a RangeChecker, usually). Check
	// never consults it. nil means no such check.
	Breached BreachChecker
}

// Bounds for Validate. NIST SP 800-63B-4 §3.1.1.2 sets a floor of 8 (15 when
// the password is the only factor) and asks that at least 64 be permitted;
// the common list holds only entries of 8 or more code points, so a lower
// minimum would let short common passwords through. The ceiling keeps
// TooLong's byte bound, and so the cost of normalising, small.
const (
	minMinLength = 8
	minMaxLength = 64
	maxMaxLength = 4096
)

// DefaultPolicy returns latch's policy: 8 to 256 code points.
func DefaultPolicy() Policy { return Policy{MinLength: 8, MaxLength: 256} }

func (p Policy) withDefaults() Policy {
	d := DefaultPolicy()
	if p.MinLength == 0 {
		p.MinLength = d.MinLength
	}
	if p.MaxLength == 0 {
		p.MaxLength = d.MaxLength
	}
	return p
}

// Validate reports every reason p is unusable, joined, or nil. Zero fields
// are valid: they stand for the defaults.
func (p Policy) Validate() error {
	p = p.withDefaults()
	var errs []error
	if p.MinLength < minMinLength {
		errs = append(errs, fmt.Errorf("password minimum length must be at least %d, got %d", minMinLength, p.MinLength))
	}
	if p.MaxLength < minMaxLength || p.MaxLength > maxMaxLength {
		errs = append(errs, fmt.Errorf("password maximum length must be %d..%d, got %d", minMaxLength, maxMaxLength, p.MaxLength))
	}
	if p.MaxLength < p.MinLength {
		errs = append(errs, fmt.Errorf("password maximum length %d is below the minimum %d", p.MaxLength, p.MinLength))
	}
	return errors.Join(errs...)
}

// rawBytesPerRune bounds how many bytes of input NFKC can fold into one
// code point of output: the most is a Hangul syllable typed as three
// conjoining jamo (9 bytes); 16 leaves room and still refuses a megabyte at
// once.
const rawBytesPerRune = 16

// TooLong reports, from the byte length alone, that raw cannot normalise to
// a password within MaxLength code points. It costs nothing, so callers run
// it on untrusted input before normalising or hashing anything: a 1 MB
// password on login is refused without work. A login refused this way takes
// less time than a Verify, but equally for known and unknown emails, so it
// reveals nothing about accounts.
func (p Policy) TooLong(raw string) bool {
	return len(raw) > p.withDefaults().MaxLength*rawBytesPerRune
}

// Check returns every reason password is refused for the account email, in
// a fixed order (invalid_utf8, too_short, too_long, control_character,
// common, matches_email), or nil when it is acceptable. It normalises
// password (NFKC) itself and counts code points, not bytes, so 8 emoji
// satisfy a minimum of 8. An input TooLong rejects yields only too_long,
// without further work. email may be empty.
func (p Policy) Check(password, email string) []Reason {
	p = p.withDefaults()
	if p.TooLong(password) {
		return []Reason{p.tooLong()}
	}
	var reasons []Reason
	if !utf8.ValidString(password) {
		reasons = append(reasons, Reason{CodeInvalidUTF8, "Password must be valid UTF-8 text."})
	}
	pw := Normalize(password)
	n := utf8.RuneCountInString(pw)
	if n < p.MinLength {
		reasons = append(reasons, Reason{CodeTooShort, fmt.Sprintf("Password must be at least %d characters long.", p.MinLength)})
	}
	if n > p.MaxLength {
		reasons = append(reasons, p.tooLong())
	}
	if strings.IndexFunc(pw, unicode.IsControl) >= 0 {
		reasons = append(reasons, Reason{CodeControlCharacter, "Password must not contain control characters such as tabs or line breaks."})
	}
	lower := strings.ToLower(pw)
	if isCommon(lower) {
		reasons = append(reasons, Reason{CodeCommon, "Password is one of the most commonly used passwords."})
	}
	if matchesEmail(lower, email) {
		reasons = append(reasons, Reason{CodeMatchesEmail, "Password must not be your email address or its part before the @."})
	}
	return reasons
}

// CheckContext is Check followed, when p.Breached is set and Check found
// nothing, by the breached-password check (NIST SP 800-63B-4 §3.1.1.2:
// compromised passwords; OWASP ASVS 5.0 V6.2.12), which may add
// breached or breach_check_unavailable. A password refused locally is never
// looked up, so not even its hash prefix leaves the process, and a request
// refused anyway costs no network round trip. Use it where a password is
// set — signup, change, reset, admin creation — not on login.
//
// The error is non-nil only when ctx ended during the lookup; the reasons
// are then nil and the caller abandons the request. A service that cannot
// be reached is not an error: Breached's fail-open or fail-closed choice
// has already turned it into a verdict.
func (p Policy) CheckContext(ctx context.Context, password, email string) ([]Reason, error) {
	if reasons := p.Check(password, email); len(reasons) > 0 || p.Breached == nil {
		return reasons, nil
	}
	r, err := p.Breached.Check(ctx, password)
	if err != nil {
		return nil, fmt.Errorf("password policy: %w", err)
	}
	if r == nil {
		return nil, nil
	}
	return []Reason{*r}, nil
}

func (p Policy) tooLong() Reason {
	return Reason{CodeTooLong, fmt.Sprintf("Password must be at most %d characters long.", p.MaxLength)}
}

// matchesEmail reports whether lower (a normalised, lower-cased password)
// is the email or the email's local part, ignoring case.
func matchesEmail(lower, email string) bool {
	e := strings.ToLower(Normalize(strings.TrimSpace(email)))
	if e == "" {
		return false
	}
	if lower == e {
		return true
	}
	at := strings.LastIndexByte(e, '@')
	return at > 0 && lower == e[:at]
}

// commonPasswords is the embedded list: lower-case, NFKC, one per line,
// sorted bytewise, unique, newline-terminated (see SOURCE.md; the tests
// enforce the shape).
//
//go:embed common_passwords.txt
var commonPasswords string

// isCommon reports whether lower is in commonPasswords. Because the list is
// sorted, a binary search over the embedded text finds it without building
// a set: nothing to initialise or guard, no memory beyond the embedded bytes.
func isCommon(lower string) bool {
	s := commonPasswords
	lo, hi := 0, len(s) // each is the start of a line, or len(s)
	for lo < hi {
		mid := lo + (hi-lo)/2
		start := lo + strings.LastIndexByte(s[lo:mid], '\n') + 1
		end := start + strings.IndexByte(s[start:hi], '\n')
		switch line := s[start:end]; {
		case line == lower:
			return true
		case line < lower:
			lo = end + 1
		default:
			hi = start
		}
	}
	return false
}
