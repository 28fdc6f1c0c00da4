package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html"
	"math"
	"net/http"
	"strconv"
)

//go:embed assets
var assetFiles embed.FS

// DefaultBrandColor is the colour of the primary actions when
// LATCH_BRAND_COLOR is unset.
const DefaultBrandColor = "#4f46e5"

// themeCSS sets the brand colour, and the text colour that reads on it,
// as CSS variables: a stylesheet rather than an inline style, so the CSP
// needs no 'unsafe-inline'.
func themeCSS(brand string) []byte {
	r, g, b, ok := parseHexColor(brand)
	if !ok {
		brand = DefaultBrandColor
		r, g, b, _ = parseHexColor(brand)
	}
	on := "#ffffff"
	if luminance(r, g, b) > 0.45 {
		on = "#111111"
	}
	return fmt.Appendf(nil, ":root{--brand:%s;--on-brand:%s}\n", brand, on)
}

// iconSVG is the pages' icon: the product's initial on the brand colour,
// as the monogram on every page.
func iconSVG(brand, initial string) []byte {
	if _, _, _, ok := parseHexColor(brand); !ok {
		brand = DefaultBrandColor
	}
	on := "#ffffff"
	if r, g, b, _ := parseHexColor(brand); luminance(r, g, b) > 0.45 {
		on = "#111111"
	}
	return fmt.Appendf(nil, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="14" fill="%s"/>`+
		`<text x="32" y="44" font-family="system-ui,sans-serif" font-size="36" font-weight="700" text-anchor="middle" fill="%s">%s</text></svg>`,
		brand, on, html.EscapeString(initial))
}

// parseHexColor reads #rrggbb.
func parseHexColor(s string) (r, g, b uint8, ok bool) {
	if len(s) != 7 || s[0] != '#' {
		return 0, 0, 0, false
	}
	v, err := strconv.ParseUint(s[1:], 16, 32)
	if err != nil {
		return 0, 0, 0, false
	}
	return uint8(v >> 16), uint8(v >> 8), uint8(v), true
}

// luminance is the relative luminance of WCAG 2.x, 0 (black) to 1.
func luminance(r, g, b uint8) float64 {
	lin := func(c uint8) float64 {
		x := float64(c) / 255
		if x <= 0.04045 {
			return x / 12.92
		}
		return math.Pow((x+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(b)
}

// handleAsset serves the embedded stylesheet and script, and the theme.
func (p *Pages) handleAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	var body []byte
	var typ string
	switch name {
	case "theme.css":
		body, typ = p.themeCSS, "text/css; charset=utf-8"
	case "icon.svg":
		body, typ = p.icon, "image/svg+xml"
	case "latch.css", "latch.js":
		b, err := assetFiles.ReadFile("assets/" + name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		body, typ = b, "text/css; charset=utf-8"
		if name == "latch.js" {
			typ = "text/javascript; charset=utf-8"
		}
	default:
		http.NotFound(w, r)
		return
	}
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	h := w.Header()
	h.Set("Content-Type", typ)
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("ETag", etag)
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
