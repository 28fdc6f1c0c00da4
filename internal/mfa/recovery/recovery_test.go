package recovery

import (
	"bytes"
	"encoding/hex"
	"math"
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	codes, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != Count {
		t.Fatalf("got %d codes, want %d", len(codes), Count)
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if seen[c] {
			t.Errorf("code %q twice", c)
		}
		seen[c] = true
		if len(c) != Length+1 || c[Length/2] != '-' {
			t.Errorf("code %q: want %d characters with a dash in the middle", c, Length)
		}
		letters := strings.Replace(c, "-", "", 1)
		for _, r := range letters {
			if !strings.ContainsRune(alphabet, r) {
				t.Errorf("code %q has %q, outside the alphabet", c, r)
			}
		}
		if got, ok := Normalize(c); !ok || got != c {
			t.Errorf("Normalize(%q) = %q, %v; want it unchanged", c, got, ok)
		}
	}
}

func TestAlphabet(t *testing.T) {
	if len(alphabet) != 32 {
		t.Fatalf("alphabet has %d letters, want 32", len(alphabet))
	}
	for i := range len(alphabet) {
		if strings.IndexByte(alphabet, alphabet[i]) != i {
			t.Errorf("%q twice in the alphabet", alphabet[i])
		}
	}
	if strings.ContainsAny(alphabet, "ilouILOU") {
		t.Errorf("alphabet %q has an ambiguous letter", alphabet)
	}
	if alphabet != strings.ToLower(alphabet) {
		t.Errorf("alphabet %q is not lower case", alphabet)
	}
}

// TestEntropy checks the arithmetic behind Bits: each character is one of
// 32 equally likely letters, log2(32) = 5 bits, and there are Length of
// them; DESIGN.md's codes need at least 50.
func TestEntropy(t *testing.T) {
	perChar := math.Log2(float64(len(alphabet)))
	if perChar != 5 {
		t.Fatalf("log2(%d) = %v, want 5", len(alphabet), perChar)
	}
	if got := perChar * Length; got != Bits {
		t.Fatalf("%d characters × %v bits = %v, want Bits = %d", Length, perChar, got, Bits)
	}
	if Bits < 50 {
		t.Fatalf("Bits = %d, want at least 50", Bits)
	}
	// 256 must be a multiple of the alphabet's size for b&31 to be uniform.
	if 256%len(alphabet) != 0 {
		t.Fatalf("256 %% %d != 0: byte masking would be biased", len(alphabet))
	}
}

// TestNewUniform draws many codes and checks every letter of the alphabet
// turns up at every position, with no letter far from its expected count.
func TestNewUniform(t *testing.T) {
	const rounds = 200 // 2,000 codes, 20,000 letters, 625 per letter
	counts := map[rune]int{}
	positions := make([]map[rune]bool, Length+1)
	for i := range positions {
		positions[i] = map[rune]bool{}
	}
	for range rounds {
		codes, err := New()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range codes {
			for i, r := range c {
				positions[i][r] = true
				if r != '-' {
					counts[r]++
				}
			}
		}
	}
	want := float64(rounds*Count*Length) / 32
	for _, r := range alphabet {
		// ±30% is more than 7 standard deviations: a real bias, not chance.
		if got := float64(counts[r]); got < want*0.7 || got > want*1.3 {
			t.Errorf("letter %q drawn %v times, want about %v", r, got, want)
		}
	}
	for i, seen := range positions {
		if i == Length/2 {
			continue
		}
		if len(seen) != 32 {
			t.Errorf("position %d saw %d letters, want 32", i, len(seen))
		}
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" when refused
	}{
		{"k7m2q-x9p4w", "k7m2q-x9p4w"},
		{"K7M2Q-X9P4W", "k7m2q-x9p4w"},
		{"k7m2qx9p4w", "k7m2q-x9p4w"},
		{"k7m2q x9p4w", "k7m2q-x9p4w"},
		{"  k7m2q - x9p4w \n", "k7m2q-x9p4w"},
		{"k-7-m-2-q-x-9-p-4-w", "k7m2q-x9p4w"},
		{"k7m2q--x9p4w", "k7m2q-x9p4w"},
		{"-k7m2q-x9p4w-", "k7m2q-x9p4w"},
		{"k7m2q–x9p4w", "k7m2q-x9p4w"},      // en dash
		{"k7m2q—x9p4w", "k7m2q-x9p4w"},      // em dash
		{"k7m2q\u2212x9p4w", "k7m2q-x9p4w"}, // minus sign
		{"k7m2q\u00a0x9p4w", "k7m2q-x9p4w"}, // no-break space
		{"k7m2q\tx9p4w", "k7m2q-x9p4w"},
		{"Kk7m2 qX9p4", "kk7m2-qx9p4"},
		{"ooiil-l0123", "00111-10123"},
		{"OOIIL-L0123", "00111-10123"},
		{"", ""},
		{"-----", ""},
		{"k7m2q-x9p4", ""},   // nine
		{"k7m2q-x9p4wz", ""}, // eleven
		{"k7m2q-x9p4u", ""},  // u is not in the alphabet
		{"k7m2q-x9p4!", ""},
		{"k7m2q_x9p4w", ""},
		{"k7m2q.x9p4w", ""},
		{"k7m2q-x9p4ω", ""},
		{"ｋ7m2q-x9p4w", ""}, // full-width k
		{"k7m2q-x9p4\xff", ""},
		{"k7m2q-x9p4w\x00", ""},
		{strings.Repeat(" ", 60) + "k7m2q-x9p4w", ""}, // over maxInput
	}
	for _, tt := range tests {
		got, ok := Normalize(tt.in)
		if ok != (tt.want != "") || got != tt.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.want != "")
		}
	}
}

// TestNormalizeRoundTrip types each new code the ways people do and checks
// each comes back as the code.
func TestNormalizeRoundTrip(t *testing.T) {
	codes, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range codes {
		bare := strings.Replace(c, "-", "", 1)
		typed := []string{
			c,
			strings.ToUpper(c),
			bare,
			strings.ToUpper(bare),
			bare[:3] + " " + bare[3:7] + " " + bare[7:],
			strings.Join(strings.Split(bare, ""), "-"),
			" " + c + " ",
			strings.ReplaceAll(strings.ReplaceAll(c, "0", "O"), "1", "l"),
		}
		for _, in := range typed {
			if got, ok := Normalize(in); !ok || got != c {
				t.Errorf("Normalize(%q) = %q, %v; want %q", in, got, ok, c)
			}
		}
	}
}

func TestHash(t *testing.T) {
	key1 := bytes.Repeat([]byte{1}, 32)
	key2 := bytes.Repeat([]byte{2}, 32)
	codes, err := New()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range codes {
		h := Hash(c, key1)
		if len(h) != 32 {
			t.Fatalf("hash of %d bytes, want 32", len(h))
		}
		if seen[string(h)] {
			t.Errorf("two codes share a hash")
		}
		seen[string(h)] = true
		if bytes.Equal(h, Hash(c, key2)) {
			t.Errorf("%q: the same hash under two keys", c)
		}
		if !bytes.Equal(h, Hash(c, key1)) {
			t.Errorf("%q: Hash is not deterministic", c)
		}
		if typed := strings.ToUpper(strings.Replace(c, "-", " ", 1)); !bytes.Equal(h, Hash(typed, key1)) {
			t.Errorf("Hash(%q) differs from Hash(%q)", typed, c)
		}
		if bytes.Contains(h, []byte(c)) {
			t.Errorf("the hash contains the code")
		}
	}
	// Something that is no code hashes to what no code hashes to.
	if bytes.Equal(Hash("not a code", key1), Hash("not-a-code", key1)) {
		t.Error("two different non-codes share a hash")
	}
	for _, c := range codes {
		if bytes.Equal(Hash(c+"x", key1), Hash(c, key1)) {
			t.Errorf("%q with a letter more hashes like the code", c)
		}
	}
}

// TestHashStable pins the stored form: changing it would orphan every
// stored hash, so it must be a deliberate, migrated change. The value was
// computed outside Go (Python's hmac module) over the context label and the
// normalized code.
func TestHashStable(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	const want = "653314d8973e5cffa83b32c50f5b3fa75ac677a412f5d0fa5f9e44c53afd2334"
	for _, in := range []string{"k7m2q-x9p4w", "K7M2Q X9P4W"} {
		if got := hex.EncodeToString(Hash(in, key)); got != want {
			t.Errorf("Hash(%q) = %s, want %s", in, got, want)
		}
	}
}
