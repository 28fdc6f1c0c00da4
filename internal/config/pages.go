package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Pages are the settings of latch's browser side: the hosted pages, the
// authorization flow and its cookies.
type Pages struct {
	// UI serves the hosted sign-in pages and /v1/authorize (LATCH_UI);
	// off, only the pages that email links open stay.
	UI bool
	// Signup allows self-service sign-up (LATCH_SIGNUP).
	Signup bool
	// RedirectURLs are where /v1/authorize may send a browser back to,
	// compared as exact strings.
	RedirectURLs []string
	LogoURL      string
	BrandColor   string // #rrggbb; "" for latch's own
}

func pageSettings() []Setting {
	return []Setting{
		{"ui", "on", "the hosted sign-in pages and /v1/authorize: on or off (API only; the pages that email links open stay unless LATCH_APP_URL sends the links elsewhere)", boolInto(func(c *Config) *bool { return &c.Pages.UI })},
		{"signup", "on", "self-service sign-up: on, or off (403 signup_disabled; people join by `latch user invite`)", boolInto(func(c *Config) *bool { return &c.Pages.Signup })},
		{"redirect_urls", "", "comma-separated redirect URIs /v1/authorize may send the browser back to, compared exactly; an http://127.0.0.1/... or http://[::1]/... entry without a port matches any port", func(c *Config, v string) error {
			c.Pages.RedirectURLs = nil
			for _, r := range strings.Split(v, ",") {
				if r = strings.TrimSpace(r); r != "" {
					c.Pages.RedirectURLs = append(c.Pages.RedirectURLs, r)
				}
			}
			return nil
		}},
		{"logo_url", "", "URL of the logo the pages show (https, or a path on latch); unset: a monogram of the product name", func(c *Config, v string) error {
			c.Pages.LogoURL = strings.TrimSpace(v)
			return nil
		}},
		{"brand_color", "", "colour of the pages' primary actions, #rrggbb", func(c *Config, v string) error {
			c.Pages.BrandColor = strings.ToLower(strings.TrimSpace(v))
			return nil
		}},
	}
}

// validatePages checks the browser side's settings.
func (c *Config) validatePages() []string {
	var p []string
	for _, r := range c.Pages.RedirectURLs {
		if msg := checkRedirect(r); msg != "" {
			p = append(p, fmt.Sprintf("LATCH_REDIRECT_URLS: %q %s", r, msg))
		}
	}
	if l := c.Pages.LogoURL; l != "" {
		u, err := url.Parse(l)
		local := err == nil && u.Scheme == "" && u.Host == "" && strings.HasPrefix(l, "/") && !strings.HasPrefix(l, "//")
		if !local && (err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil) {
			p = append(p, fmt.Sprintf("LATCH_LOGO_URL: %q is not an https URL or a path on latch", l))
		}
	}
	if b := c.Pages.BrandColor; b != "" && !isHexColor(b) {
		p = append(p, fmt.Sprintf("LATCH_BRAND_COLOR: %q is not a colour like #4f46e5", b))
	}
	if c.Pages.UI {
		if u, err := url.Parse(c.PublicURL); err == nil && u.Scheme == "http" && !IsLoopbackHost(u.Hostname()) {
			p = append(p, "LATCH_PUBLIC_URL: the hosted pages need https (their cookies are Secure); plain http is allowed only on a loopback address for development. Serve latch over https, or set LATCH_UI=off")
		}
	}
	return p
}

// checkRedirect says what is wrong with a redirect URI entry, "" if
// nothing: an absolute URL without fragment or userinfo (RFC 6749
// §3.1.2), https, http only on a loopback host (RFC 8252 §7.3), or a
// private-use scheme of a native app, written as a reversed domain name
// (RFC 8252 §7.1). No wildcards: entries are compared as exact strings.
func checkRedirect(r string) string {
	u, err := url.Parse(r)
	switch {
	case err != nil || u.Scheme == "":
		return "is not an absolute URL"
	case u.Fragment != "" || strings.Contains(r, "#"):
		return "has a fragment"
	case u.User != nil:
		return "has user information"
	case strings.Contains(r, "*"):
		return "has a wildcard; redirect URIs are compared exactly"
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return "has no host"
		}
	case "http":
		if !IsLoopbackHost(u.Hostname()) {
			return "uses http on a host that is not loopback; use https"
		}
	case "javascript", "data", "file", "vbscript":
		return "has a scheme that cannot be a redirect URI"
	default:
		if !strings.Contains(u.Scheme, ".") {
			return "has a private-use scheme that is not a reversed domain name (e.g. com.example.app)"
		}
	}
	return ""
}

// IsLoopbackHost reports whether host is localhost or a loopback IP.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func isHexColor(s string) bool {
	if len(s) != 7 || s[0] != '#' {
		return false
	}
	for _, r := range s[1:] {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}
