package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/text/language"
)

//go:embed locales
var files embed.FS

// Fallback is the language every catalog key is written in first, and
// the one a request gets when it accepts none that latch has.
const Fallback = "en"

// Catalog holds every message of latch's pages and emails, by language.
type Catalog struct {
	langs   map[string]map[string]string
	tags    []language.Tag
	matcher language.Matcher
}

var placeholder = regexp.MustCompile(`\{[a-z_]+\}`)

// Load reads the catalogs embedded under locales/: a folder per language
// named by its BCP 47 tag, holding JSON files (pages.json, mail.json...)
// whose keys together make the language's catalog; a key in two files is
// an error. The fallback language comes first, so that the matcher
// prefers it when nothing else fits.
func Load() (*Catalog, error) {
	dirs, err := files.ReadDir("locales")
	if err != nil {
		return nil, err
	}
	c := &Catalog{langs: map[string]map[string]string{}}
	var others []language.Tag
	for _, d := range dirs {
		tag := d.Name()
		t, err := language.Parse(tag)
		if err != nil || !d.IsDir() {
			return nil, fmt.Errorf("i18n: locales/%s is not a language folder", tag)
		}
		m, err := loadLanguage(tag)
		if err != nil {
			return nil, err
		}
		c.langs[tag] = m
		if tag != Fallback {
			others = append(others, t)
		}
	}
	if c.langs[Fallback] == nil {
		return nil, fmt.Errorf("i18n: no %s catalog", Fallback)
	}
	slices.SortFunc(others, func(a, b language.Tag) int { return strings.Compare(a.String(), b.String()) })
	c.tags = append([]language.Tag{language.English}, others...)
	c.matcher = language.NewMatcher(c.tags)
	return c, nil
}

// loadLanguage merges the JSON files of one language's folder.
func loadLanguage(tag string) (map[string]string, error) {
	entries, err := files.ReadDir(path.Join("locales", tag))
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, e := range entries {
		name := path.Join("locales", tag, e.Name())
		b, err := files.ReadFile(name)
		if err != nil {
			return nil, err
		}
		part := map[string]string{}
		if err := json.Unmarshal(b, &part); err != nil {
			return nil, fmt.Errorf("i18n: %s: %w", name, err)
		}
		for k, v := range part {
			if _, dup := m[k]; dup {
				return nil, fmt.Errorf("i18n: %s: key %q is defined twice", name, k)
			}
			m[k] = v
		}
	}
	return m, nil
}

// MustLoad is Load for the embedded catalogs, which the tests check: an
// error is a build defect.
func MustLoad() *Catalog {
	c, err := Load()
	if err != nil {
		panic(err)
	}
	return c
}

// Languages lists the tags latch has a catalog for, the fallback first.
func (c *Catalog) Languages() []string {
	out := make([]string, len(c.tags))
	for i, t := range c.tags {
		out[i] = t.String()
	}
	return out
}

// Keys lists the keys of one language's catalog, sorted.
func (c *Catalog) Keys(lang string) []string {
	keys := make([]string, 0, len(c.langs[lang]))
	for k := range c.langs[lang] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Placeholders lists the {names} a message uses, sorted.
func Placeholders(msg string) []string {
	ps := placeholder.FindAllString(msg, -1)
	slices.Sort(ps)
	return slices.Compact(ps)
}

// Lang is one language's view of the catalog.
type Lang struct {
	tag      string
	m        map[string]string
	fallback map[string]string
}

// Match picks the language for an Accept-Language header; a header that
// does not parse, or names nothing latch has, gets the fallback.
func (c *Catalog) Match(acceptLanguage string) Lang {
	tag := Fallback
	if prefs, _, err := language.ParseAcceptLanguage(acceptLanguage); err == nil && len(prefs) > 0 {
		_, i, conf := c.matcher.Match(prefs...)
		if conf != language.No {
			tag = c.tags[i].String()
		}
	}
	return c.Lang(tag)
}

// Lang returns the language with this tag, or the fallback.
func (c *Catalog) Lang(tag string) Lang {
	m, ok := c.langs[tag]
	if !ok {
		tag, m = Fallback, c.langs[Fallback]
	}
	return Lang{tag: tag, m: m, fallback: c.langs[Fallback]}
}

// Tag is the language's BCP 47 tag, for <html lang>.
func (l Lang) Tag() string { return l.tag }

// Has reports whether the key exists in the fallback catalog.
func (l Lang) Has(key string) bool {
	_, ok := l.fallback[key]
	return ok
}

// T returns the message for key with each {name} replaced by the value
// that follows name in args. A key missing from this language falls back
// to English, and a key missing there too is returned as it is, so a
// mistake shows on the page instead of an empty string (the tests check
// that no template uses a missing key).
func (l Lang) T(key string, args ...string) string {
	msg, ok := l.m[key]
	if !ok {
		if msg, ok = l.fallback[key]; !ok {
			return key
		}
	}
	if len(args) < 2 {
		return msg
	}
	pairs := make([]string, 0, len(args))
	for i := 0; i+1 < len(args); i += 2 {
		pairs = append(pairs, "{"+args[i]+"}", args[i+1])
	}
	return strings.NewReplacer(pairs...).Replace(msg)
}
