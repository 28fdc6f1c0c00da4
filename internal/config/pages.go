package config

import (
	"fmt"
	"net/url"
	"strings"
)

// browserProblems checks the settings of the browser side: the pages,
// the redirect URIs and the theme.
func (pg Pages) browserProblems(publicURL string) []string {
	var p []string
	for _, r := range pg.RedirectURLs {
		if msg := checkRedirect(r); msg != "" {
			p = append(p, fmt.Sprintf("LATCH_REDIRECT_URLS: %q %s", r, msg))
		}
	}
	if l := pg.LogoURL; l != "" {
		u, err := url.Parse(l)
		local := err == nil && u.Scheme == "" && u.Host == "" && strings.HasPrefix(l, "/") && !strings.HasPrefix(l, "//")
		if !local && (err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil) {
			p = append(p, fmt.Sprintf("LATCH_LOGO_URL: %q is not an https URL or a path on latch", l))
		}
	}
	if b := pg.BrandColor; b != "" && !isHexColor(b) {
		p = append(p, fmt.Sprintf("LATCH_BRAND_COLOR: %q is not a colour like #4f46e5", b))
	}
	if pg.UI {
		if u, err := url.Parse(publicURL); err == nil && u.Scheme == "http" && !loopbackHost(u.Hostname()) {
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
		if !loopbackHost(u.Hostname()) {
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
