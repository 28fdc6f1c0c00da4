package qr

import (
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"image"
	"image/color"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	gozxingqr "github.com/makiuchi-d/gozxing/qrcode"
)

// uri is what the MFA handler will encode: a Key Uri Format URI with a
// 160-bit secret, an escaped issuer and an email address.
const uri = "otpauth://totp/Latch%20Demo:alice.example%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Latch%20Demo&algorithm=SHA1&digits=6&period=30"

// svgDoc is the shape of SVG's output, read back with encoding/xml.
type svgDoc struct {
	XMLName        xml.Name `xml:"http://www.w3.org/2000/svg svg"`
	ViewBox        string   `xml:"viewBox,attr"`
	Width          string   `xml:"width,attr"`
	Height         string   `xml:"height,attr"`
	ShapeRendering string   `xml:"shape-rendering,attr"`
	Role           string   `xml:"role,attr"`
	Title          string   `xml:"title"`
	Rects          []struct {
		Width  string `xml:"width,attr"`
		Height string `xml:"height,attr"`
		Fill   string `xml:"fill,attr"`
	} `xml:"rect"`
	Paths []struct {
		D    string `xml:"d,attr"`
		Fill string `xml:"fill,attr"`
	} `xml:"path"`
}

// parse decodes the SVG strictly and returns it with the module grid its
// path draws, quiet zone included, sized by the viewBox.
func parse(t *testing.T, svg string) (svgDoc, [][]bool) {
	t.Helper()
	var doc svgDoc
	dec := xml.NewDecoder(strings.NewReader(svg))
	dec.Strict = true
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("not well-formed SVG: %v\n%s", err, svg)
	}
	if _, err := dec.Token(); err == nil {
		t.Fatalf("content after the </svg>")
	}
	var size int
	if _, err := fmt.Sscanf(doc.ViewBox, "0 0 %d %d", &size, new(int)); err != nil {
		t.Fatalf("viewBox %q: %v", doc.ViewBox, err)
	}
	if doc.ViewBox != fmt.Sprintf("0 0 %d %d", size, size) {
		t.Fatalf("viewBox %q is not square", doc.ViewBox)
	}
	if len(doc.Paths) != 1 {
		t.Fatalf("%d paths, want one", len(doc.Paths))
	}
	grid := make([][]bool, size)
	for i := range grid {
		grid[i] = make([]bool, size)
	}
	// Each run of dark modules is a rectangle one module high, reached by
	// an absolute move first and relative moves after.
	run := regexp.MustCompile(`^([Mm])(-?\d+) (-?\d+)h(\d+)v1h-(\d+)z`)
	d := doc.Paths[0].D
	x, y := 0, 0
	for first := true; d != ""; first = false {
		m := run.FindStringSubmatch(d)
		if m == nil || m[4] != m[5] || (m[1] == "M") != first {
			t.Fatalf("unexpected path data at %.40q", d)
		}
		dx, _ := strconv.Atoi(m[2])
		dy, _ := strconv.Atoi(m[3])
		n, _ := strconv.Atoi(m[4])
		x, y = x+dx, y+dy
		if x < 0 || y < 0 || y >= size || x+n > size || n == 0 {
			t.Fatalf("run %q outside the %d×%d viewBox", m[0], size, size)
		}
		for i := x; i < x+n; i++ {
			if grid[y][i] {
				t.Fatalf("module %d,%d drawn twice", i, y)
			}
			grid[y][i] = true
		}
		d = d[len(m[0]):]
	}
	return doc, grid
}

// decode reads the grid as a camera would see it, four pixels a module,
// with an implementation of QR decoding that latch did not write.
func decode(t *testing.T, grid [][]bool) string {
	t.Helper()
	const scale = 4
	img := image.NewGray(image.Rect(0, 0, len(grid)*scale, len(grid)*scale))
	for y := range img.Bounds().Dy() {
		for x := range img.Bounds().Dx() {
			c := color.Gray{Y: 255}
			if grid[y/scale][x/scale] {
				c.Y = 0
			}
			img.SetGray(x, y, c)
		}
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := gozxingqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("the QR code does not decode: %v", err)
	}
	return res.GetText()
}

func TestSVGDecodes(t *testing.T) {
	tests := []string{
		uri,
		"otpauth://totp/" + strings.Repeat("Z%C3%BCrich%20", 8) + ":jos%C3%A9?secret=" + strings.Repeat("A", 32),
		"hello",
		"HELLO WORLD 0123456789",
		"0123456789012345678901234567890123456789",
		strings.Repeat("x", 500),
	}
	for _, content := range tests {
		t.Run(fmt.Sprintf("%.30s", content), func(t *testing.T) {
			svg, err := SVG(content, Options{})
			if err != nil {
				t.Fatal(err)
			}
			_, grid := parse(t, svg)
			if got := decode(t, grid); got != content {
				t.Fatalf("decoded %q, want %q", got, content)
			}
		})
	}
}

func TestSVGMatchesMatrix(t *testing.T) {
	m, version, err := matrix(uri)
	if err != nil {
		t.Fatal(err)
	}
	svg, err := SVG(uri, Options{})
	if err != nil {
		t.Fatal(err)
	}
	doc, grid := parse(t, svg)

	modules := 17 + 4*version
	if len(m) != modules {
		t.Fatalf("version %d matrix is %d modules, want %d", version, len(m), modules)
	}
	if want := fmt.Sprintf("0 0 %d %d", modules+2*QuietZone, modules+2*QuietZone); doc.ViewBox != want {
		t.Fatalf("viewBox %q, want %q", doc.ViewBox, want)
	}
	for y := range grid {
		for x := range grid {
			in := x >= QuietZone && y >= QuietZone && x < QuietZone+modules && y < QuietZone+modules
			want := in && m[y-QuietZone][x-QuietZone]
			if grid[y][x] != want {
				t.Fatalf("module %d,%d: dark = %v, want %v", x, y, grid[y][x], want)
			}
		}
	}
	// Three finder patterns: a dark 7×7 ring, a light ring inside it, a
	// dark 3×3 centre, at the top-left, top-right and bottom-left.
	for _, c := range [][2]int{{0, 0}, {modules - 7, 0}, {0, modules - 7}} {
		for dy := range 7 {
			for dx := range 7 {
				ring := max(abs(dx-3), abs(dy-3))
				if want := ring != 2; m[c[1]+dy][c[0]+dx] != want {
					t.Fatalf("finder at %v: module %d,%d dark = %v, want %v", c, dx, dy, !want, want)
				}
			}
		}
	}
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// TestVersion checks the version the library picks against ISO/IEC 18004's
// byte-mode capacities at level M, with lower-case text (byte mode only):
// the smallest version that holds the content, so the module count is
// 17+4·version.
func TestVersion(t *testing.T) {
	capacity := []int{0, 14, 26, 42, 62, 84, 106, 122, 152, 180, 213}
	for v := 1; v < len(capacity); v++ {
		for _, n := range []int{capacity[v-1] + 1, capacity[v]} {
			m, version, err := matrix(strings.Repeat("a", n))
			if err != nil {
				t.Fatal(err)
			}
			if version != v || len(m) != 17+4*v {
				t.Errorf("%d bytes: version %d of %d modules, want version %d of %d", n, version, len(m), v, 17+4*v)
			}
		}
	}
}

func TestSVGAttributes(t *testing.T) {
	svg, err := SVG(uri, Options{Width: "100%", Height: `12em"><script>`, Title: `Scan <this> & "that"`})
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := parse(t, svg)
	if doc.Width != "100%" || doc.Height != `12em"><script>` {
		t.Errorf("width %q height %q", doc.Width, doc.Height)
	}
	if strings.Contains(svg, "<script") {
		t.Errorf("an attribute value escaped into markup: %s", svg)
	}
	if doc.Title != `Scan <this> & "that"` {
		t.Errorf("title %q", doc.Title)
	}
	if doc.ShapeRendering != "crispEdges" || doc.Role != "img" {
		t.Errorf("shape-rendering %q role %q", doc.ShapeRendering, doc.Role)
	}
	if len(doc.Rects) != 1 || doc.Rects[0].Fill != "#fff" || doc.Paths[0].Fill != "#000" {
		t.Errorf("want one white background rect and one black path: %+v %+v", doc.Rects, doc.Paths)
	}

	// The defaults: whole pixels per module and a title.
	svg, err = SVG(uri, Options{})
	if err != nil {
		t.Fatal(err)
	}
	doc, grid := parse(t, svg)
	if want := strconv.Itoa(len(grid) * DefaultModulePixels); doc.Width != want || doc.Height != want {
		t.Errorf("default size %s×%s, want %s", doc.Width, doc.Height, want)
	}
	if doc.Title != "QR code" {
		t.Errorf("default title %q", doc.Title)
	}
	// 7.5 kB for this URI (version 8); one element per module would be
	// three times that.
	if len(svg) > 9000 {
		t.Errorf("SVG of an otpauth URI is %d bytes, want it small", len(svg))
	}
	// Usable as an <img> source.
	if _, err := base64.StdEncoding.DecodeString(base64.StdEncoding.EncodeToString([]byte(svg))); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(svg, `<svg xmlns="http://www.w3.org/2000/svg"`) {
		t.Errorf("an <img> needs the SVG namespace on the root: %.60s", svg)
	}
}

func TestSVGEmpty(t *testing.T) {
	if _, err := SVG("", Options{}); err == nil {
		t.Fatal("empty content: got no error")
	}
}

func TestSVGTooLong(t *testing.T) {
	if _, err := SVG(strings.Repeat("a", maxContent+1), Options{}); !errors.Is(err, ErrTooLong) {
		t.Fatalf("got %v, want ErrTooLong", err)
	}
	if _, err := SVG(strings.Repeat("a", maxContent), Options{}); err != nil {
		t.Fatalf("version 40's capacity refused: %v", err)
	}
}
