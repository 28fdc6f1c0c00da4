package web

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/latchauth/latch/internal/i18n"
)

// Every catalog key the templates and the handlers name exists in
// English (and so, by the i18n package's test, in every language): a
// missing key would show on a page as the key itself.
func TestEveryKeyIsInTheCatalog(t *testing.T) {
	en := i18n.MustLoad().Lang(i18n.Fallback)
	keyShape := regexp.MustCompile(`^(account|authorize|code|common|email_change|email_revert|error|factors|field|footer|hint|invite|link|login|logout|mfa|nav|passkey|reason|recover|reset|signup|verify|webauthn)\.[a-z_]+$`)
	inTemplate := regexp.MustCompile(`\bT "([a-z_.]+)"`)
	seen := 0
	files, _ := filepath.Glob("templates/*.html")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range inTemplate.FindAllSubmatch(b, -1) {
			seen++
			if !en.Has(string(m[1])) {
				t.Errorf("%s: no catalog key %q", f, m[1])
			}
		}
	}
	gofiles, _ := filepath.Glob("*.go")
	for _, f := range gofiles {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(token.NewFileSet(), f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, _ := strconv.Unquote(lit.Value)
			if keyShape.MatchString(s) {
				seen++
				if !en.Has(s) {
					t.Errorf("%s: no catalog key %q", f, s)
				}
			}
			return true
		})
	}
	// The link kinds build their keys from a prefix.
	for _, k := range linkKinds {
		for _, suffix := range []string{".title", ".lead", ".submit", ".done_title", ".done"} {
			seen++
			if !en.Has(k.prefix + suffix) {
				t.Errorf("link page %s: no catalog key %q", k.path, k.prefix+suffix)
			}
		}
	}
	// Keys built from a part: the second step's errors by field, the
	// enrolment pages' titles by template.
	for _, key := range []string{"mfa.wrong_code", "mfa.wrong_recovery_code", "mfa.wrong_key",
		"factors.factor_totp_title", "factors.factor_webauthn_title"} {
		seen++
		if !en.Has(key) {
			t.Errorf("no catalog key %q", key)
		}
	}
	if seen < 100 {
		t.Fatalf("only %d keys found: the scan is broken", seen)
	}
}

// RFC 9700 §2.1 and RFC 8252 §7.3: exact string comparison, with only a
// loopback IP literal's port free.
func TestAllowedRedirect(t *testing.T) {
	allowed := []string{"https://app.example.com/cb", "http://127.0.0.1/native", "http://[::1]/native", "http://localhost:3000/cb", "com.example.app:/cb"}
	allowedRedirect := func(uri string) bool { return AllowedRedirect(allowed, uri) }
	checkEach(t, "AllowedRedirect", allowedRedirect, map[string]bool{
		"https://app.example.com/cb":            true,
		"https://app.example.com/cb/":           false,
		"https://app.example.com/cb?x":          false,
		"https://app.example.com/cb#f":          false,
		"https://app.example.com:443/cb":        false,
		"http://127.0.0.1:51234/native":         true,
		"http://127.0.0.1/native":               true,
		"http://[::1]:8000/native":              true,
		"http://127.0.0.1:51234/native/":        false,
		"http://127.0.0.1:51234/native?x=1":     false,
		"http://127.0.0.1:0x50/native":          false,
		"http://127.0.0.1:70000/native":         false,
		"https://127.0.0.1:51234/native":        false,
		"http://u@127.0.0.1:51234/native":       false,
		"http://localhost:3000/cb":              true,
		"http://localhost:3001/cb":              false,
		"com.example.app:/cb":                   true,
		"com.example.app:/cb2":                  false,
		"":                                      false,
		"javascript:alert(1)":                   false,
		"http://127.0.0.1:5000/native%2F..":     false,
		"http://127.0.0.1:5000/NATIVE":          false,
		"http://127.0.0.1.evil.com:5000/native": false,
	})
}

// A continuation stays on latch and leads only back to an authorization
// request or the account page.
func TestCheckContinue(t *testing.T) {
	checkEach(t, "checkContinue", checkContinue, map[string]string{
		"/account":                         "/account",
		"/v1/authorize?redirect_uri=x&a=b": "/v1/authorize?redirect_uri=x&a=b",
		"//evil.example.com/v1/authorize":  "",
		"https://evil.example.com/account": "",
		"/\\evil.example.com":              "",
		"/logout":                          "",
		"/account#x":                       "",
		"javascript:alert(1)":              "",
		"/v1/authorize\r\nLocation: x":     "",
		"":                                 "",
	})
}

// The text on the brand colour stays readable: dark on light colours,
// white on dark ones (WCAG 2.x relative luminance).
func TestThemeContrast(t *testing.T) {
	for color, on := range map[string]string{"#4f46e5": "#ffffff", "#ffd60a": "#111111", "#0a7d4f": "#ffffff", "#f0f0f0": "#111111", "bad": "#ffffff"} {
		css := string(themeCSS(color))
		if !strings.Contains(css, "--on-brand:"+on) {
			t.Errorf("theme for %s: %s", color, css)
		}
	}
}

func TestAgentName(t *testing.T) {
	checkEach(t, "agentName", agentName, map[string]string{
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36":                                   "Chrome · Linux",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1": "Safari · iOS",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0":                                                        "Firefox · Windows",
		"curl/8.5.0": "curl/8.5.0",
		"":           "",
	})
}

// checkEach checks f, named name in failures, on each input of cases
// against the result it maps to.
func checkEach[T comparable](t *testing.T, name string, f func(string) T, cases map[string]T) {
	t.Helper()
	for in, want := range cases {
		if got := f(in); got != want {
			t.Errorf("%s(%q) = %#v, want %#v", name, in, got, want)
		}
	}
}
