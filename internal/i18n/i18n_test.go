package i18n

import (
	"slices"
	"strings"
	"testing"
)

// Every language has exactly English's keys, each message with the same
// placeholders, so no page or email shows a key or loses a value.
func TestEveryKeyInEveryLanguage(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Languages()) < 2 {
		t.Fatalf("languages: %v; English and at least one more are shipped", c.Languages())
	}
	en := c.Keys(Fallback)
	for _, tag := range c.Languages()[1:] {
		keys := c.Keys(tag)
		for _, k := range en {
			if _, ok := slices.BinarySearch(keys, k); !ok {
				t.Errorf("%s: missing %q", tag, k)
				continue
			}
			want, got := Placeholders(c.Lang(Fallback).T(k)), Placeholders(c.Lang(tag).T(k))
			if !slices.Equal(want, got) {
				t.Errorf("%s: %q has placeholders %v, English %v", tag, k, got, want)
			}
		}
		for _, k := range keys {
			if _, ok := slices.BinarySearch(en, k); !ok {
				t.Errorf("%s: %q is not in English", tag, k)
			}
		}
	}
}

func TestMatch(t *testing.T) {
	c := MustLoad()
	for header, want := range map[string]string{
		"":                        "en",
		"de-DE,de;q=0.9,en;q=0.8": "de",
		"de-AT":                   "de",
		"fr-FR,fr;q=0.9":          "en",
		"fr;q=0.9,de;q=0.5":       "de",
		"en-GB,de;q=0.5":          "en",
		"*":                       "en",
		"not a ;;; header \x00":   "en",
		"de;q=0.1,en;q=0.2":       "en",
	} {
		if got := c.Match(header).Tag(); got != want {
			t.Errorf("Match(%q) = %s, want %s", header, got, want)
		}
	}
}

func TestT(t *testing.T) {
	l := MustLoad().Lang("de")
	if got := l.T("recover.sent", "email", "a@example.com"); got == "" || !strings.Contains(got, "a@example.com") {
		t.Errorf("T with a value: %q", got)
	}
	if got := l.T("no.such.key"); got != "no.such.key" {
		t.Errorf("missing key: %q", got)
	}
	if got := MustLoad().Lang("xx").Tag(); got != "en" {
		t.Errorf("unknown tag falls back to %q", got)
	}
}
