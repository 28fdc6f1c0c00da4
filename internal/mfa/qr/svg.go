package qr

import (
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/skip2/go-qrcode"
)

// QuietZone is the white margin around the symbol, in modules: the four
// that ISO/IEC 18004 requires for a reader to find the code.
const QuietZone = 4

// Options are the presentational choices of an SVG; the zero value is fine.
type Options struct {
	// Width and Height are the width and height attributes of the <svg>,
	// any SVG length ("240", "12em", "100%"). An empty one is
	// DefaultModulePixels pixels per module, so that each module is a whole
	// number of pixels.
	Width, Height string
	// Title is the accessible name of the image; empty means "QR code".
	// The caller passes a translated text such as "Scan this code with
	// your authenticator app".
	Title string
}

// DefaultModulePixels is the size of a module, in pixels, when Options
// leaves the width or height empty: for an otpauth URI (version 7 to 9,
// 53 to 61 modules with the quiet zone) it makes an image of 212 to 244
// pixels, which phones read easily from a screen.
const DefaultModulePixels = 4

// ErrTooLong is returned for content longer than maxContent bytes, which
// no version holds in byte mode at level M.
var ErrTooLong = errors.New("qr: content too long for a QR code")

// maxContent is the capacity of version 40 at level M in byte mode; past
// it the library would refuse anyway, after more work.
const maxContent = 2331

// SVG returns content as a QR code in SVG, at error-correction level M
// (15% of the symbol can be lost), in the smallest version that holds it.
func SVG(content string, opts Options) (string, error) {
	m, _, err := matrix(content)
	if err != nil {
		return "", err
	}
	return render(m, opts), nil
}

// matrix returns the symbol's modules, true for dark, without a quiet zone,
// and its version (1 to 40: 17+4·version modules a side).
func matrix(content string) ([][]bool, int, error) {
	if content == "" {
		return nil, 0, errors.New("qr: nothing to encode")
	}
	if len(content) > maxContent {
		return nil, 0, ErrTooLong
	}
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return nil, 0, fmt.Errorf("qr: encode: %w", err)
	}
	q.DisableBorder = true
	return q.Bitmap(), q.VersionNumber, nil
}

// render draws the modules with the quiet zone around them. Each run of
// dark modules in a row is one closed rectangle of the path, so the path
// is a few kilobytes for an otpauth URI and the image has no seams
// between neighbouring modules.
func render(m [][]bool, opts Options) string {
	size := len(m) + 2*QuietZone
	sizeStr := strconv.Itoa(size)
	width, height := opts.Width, opts.Height
	if width == "" {
		width = strconv.Itoa(size * DefaultModulePixels)
	}
	if height == "" {
		height = strconv.Itoa(size * DefaultModulePixels)
	}
	title := opts.Title
	if title == "" {
		title = "QR code"
	}

	var b strings.Builder
	b.Grow(64 * len(m) * 4)
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 `)
	b.WriteString(sizeStr + " " + sizeStr)
	b.WriteString(`" width="`)
	escape(&b, width)
	b.WriteString(`" height="`)
	escape(&b, height)
	b.WriteString(`" shape-rendering="crispEdges"><title>`)
	escape(&b, title)
	b.WriteString(`</title><rect width="`)
	b.WriteString(sizeStr)
	b.WriteString(`" height="`)
	b.WriteString(sizeStr)
	b.WriteString(`" fill="#fff"/><path fill="#000" d="`)
	// Relative moves keep the numbers short: after a "z" the current
	// point is the start of the run just drawn.
	cx, cy, first := 0, 0, true
	for y, row := range m {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			start := x
			for x < len(row) && row[x] {
				x++
			}
			px, py := start+QuietZone, y+QuietZone
			if first {
				fmt.Fprintf(&b, "M%d %d", px, py)
				first = false
			} else {
				fmt.Fprintf(&b, "m%d %d", px-cx, py-cy)
			}
			fmt.Fprintf(&b, "h%dv1h-%dz", x-start, x-start)
			cx, cy = px, py
		}
	}
	b.WriteString(`"/></svg>`)
	return b.String()
}

// escape writes s as XML character data, safe in an attribute in double
// quotes as well as in an element.
func escape(b *strings.Builder, s string) {
	// xml.EscapeText writes to an io.Writer that cannot fail here.
	_ = xml.EscapeText(b, []byte(s))
}
