package auth

import (
	"strings"
	"testing"

	"github.com/latchauth/latch/internal/token"
)

func TestParseEmail(t *testing.T) {
	ok := map[string]string{
		"ada@example.com":         "ada@example.com",
		"  Ada@Example.COM\t":     "ada@example.com",
		"a.b+tag@sub.example.org": "a.b+tag@sub.example.org",
		"用户@例子.广告":                "用户@例子.广告",
	}
	for in, want := range ok {
		got, err := ParseEmail(in)
		if err != nil || got != want {
			t.Errorf("ParseEmail(%q): got %q, %v; want %q", in, got, err, want)
		}
	}
	bad := []string{"", "ada", "@example.com", "ada@", "ada@localhost", "Ada <ada@example.com>",
		"ada@example.com, bob@example.com", "ada@@example.com", "ada@.example.com", "ada@example.com.",
		"ada (comment)@example.com", "\"ada\"@example.com", "a\x00@example.com", strings.Repeat("a", 250) + "@example.com"}
	for _, in := range bad {
		if got, err := ParseEmail(in); err == nil {
			t.Errorf("ParseEmail(%q): got %q, want an error", in, got)
		}
	}
}

// testMAC is a real sealer whose secret is key, padded to the length a
// secret needs.
func testMAC(key string) MACer {
	s, err := token.NewSealer([]byte(key + strings.Repeat("-", 48)))
	if err != nil {
		panic(err)
	}
	return s
}

// The successor is a pure function of the parent and the server secret:
// the grace window depends on getting the same one twice, and a different
// secret must give an unrelated token.
func TestSuccessor(t *testing.T) {
	s := &Service{mac: testMAC("secret-a")}
	parent := newRefreshToken()
	a, b := s.successor(parent), s.successor(parent)
	if a != b {
		t.Fatalf("successor not deterministic: %q vs %q", a, b)
	}
	if !wellFormedRefresh(a) || a == parent {
		t.Fatalf("successor %q is not a fresh well-formed refresh token", a)
	}
	other := &Service{mac: testMAC("secret-b")}
	if other.successor(parent) == a {
		t.Fatal("successor does not depend on the secret")
	}
	if s.successor(newRefreshToken()) == a {
		t.Fatal("successor does not depend on the parent")
	}
}

func TestRefreshTokenFormat(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		tok := newRefreshToken()
		if !wellFormedRefresh(tok) || !strings.HasPrefix(tok, "lrt_") || len(tok) != 4+43 {
			t.Fatalf("token %q: want lrt_ and 43 base64url characters (256 bits)", tok)
		}
		if seen[tok] {
			t.Fatal("duplicate refresh token")
		}
		seen[tok] = true
	}
	for _, bad := range []string{"", "lrt_", "lrt_" + strings.Repeat("a", 42), "lrt_" + strings.Repeat("a", 44),
		"xrt_" + strings.Repeat("a", 43), "lrt_" + strings.Repeat("+", 43), "lrt_" + strings.Repeat("a", 42) + "="} {
		if wellFormedRefresh(bad) {
			t.Errorf("wellFormedRefresh(%q): got true", bad)
		}
	}
}

func TestCheckMetadata(t *testing.T) {
	for _, ok := range []string{"", "null", "{}", `{"a":[1,{"b":null}]}`} {
		if _, err := checkMetadata([]byte(ok)); err != nil {
			t.Errorf("checkMetadata(%s): %v", ok, err)
		}
	}
	for _, bad := range []string{"[]", `"x"`, "1", "{", `{"a":` + strings.Repeat("x", 17<<10) + `}`} {
		if _, err := checkMetadata([]byte(bad)); err == nil {
			t.Errorf("checkMetadata(%.20s): want an error", bad)
		}
	}
}

func TestTruncateKeepsUTF8(t *testing.T) {
	s := strings.Repeat("é", 300) // 600 bytes
	got := truncate(s, 511)
	if len(got) != 510 || !strings.HasSuffix(got, "é") {
		t.Fatalf("truncate: got %d bytes", len(got))
	}
}
