package browsertest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// focused describes the focused element and whether its focus is drawn:
// a box-shadow or an outline that is not "none".
const focused = `(() => {
  const e = document.activeElement;
  if (!e || e === document.body) return {what: "body", ring: false};
  let what = e.tagName.toLowerCase();
  if (e.id) what = "#" + e.id;
  else if (e.classList.contains("toggle")) what = "toggle:" + e.getAttribute("aria-controls");
  else if (e.type === "submit") what = "submit:" + e.textContent.trim();
  else if (e.tagName === "A") what = "link:" + e.getAttribute("href");
  const s = getComputedStyle(e);
  const ring = (s.boxShadow !== "none" && s.boxShadow !== "") || (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0);
  return {what: what, ring: ring, visible: e.matches(":focus-visible")};
})()`

type focus struct {
	What    string `json:"what"`
	Ring    bool   `json:"ring"`
	Visible bool   `json:"visible"`
}

// TestSignInByKeyboard: on the sign-in page, Tab from the top reaches the
// email field, the password field, the show/hide button and the Sign in
// button in that order, and each shows where the focus is.
//
// Checks: WCAG 2.2 SC 2.1.1 (keyboard), 2.4.3 (focus order), 2.4.7 (focus
// visible); DESIGN "accessible (… keyboard only, visible focus)".
func TestSignInByKeyboard(t *testing.T) {
	t.Parallel()
	l := startLatch(t, sqlite)
	p := newPerson(t, "keyboard", time.Minute)
	p.open(l.URL + "/login")
	// From the top: a click on the page's top corner moves the focus
	// (and where Tab starts from) to the start of the document; then Tab
	// after Tab.
	p.do("click the top of the page", chromedp.MouseClickXY(2, 2))
	if f := eval[focus](p, focused); f.What != "body" {
		p.fatalf("after a click on the background the focus is on %s", f.What)
	}
	var seen []focus
	for range 10 {
		p.do("press Tab", chromedp.KeyEvent(kb.Tab))
		f := eval[focus](p, focused)
		seen = append(seen, f)
		if strings.HasPrefix(f.What, "submit:Sign in") {
			break
		}
	}
	p.step("focus-on-submit")
	want := []string{"#email", "#password", "toggle:password", "submit:Sign in"}
	i := 0
	var order []string
	for _, f := range seen {
		order = append(order, f.What)
		if i < len(want) && f.What == want[i] {
			if !f.Ring || !f.Visible {
				t.Errorf("%s has the focus but draws no focus ring (box-shadow/outline none, or not :focus-visible): %+v", f.What, f)
			}
			i++
		}
	}
	if i < len(want) {
		t.Fatalf("Tab went through %v; want %v in that order", order, want)
	}
	t.Logf("tab order: %s", strings.Join(order, " → "))
}

// TestLoginPageWeight: the sign-in page, its stylesheets and its script
// weigh less than 50 KB uncompressed, as the browser decoded them.
func TestLoginPageWeight(t *testing.T) {
	t.Parallel()
	l := startLatch(t, sqlite)
	p := newPerson(t, "weight", time.Minute)
	p.open(l.URL + "/login")
	type entry struct {
		Name string  `json:"name"`
		Size float64 `json:"size"`
	}
	entries := eval[[]entry](p, `[performance.getEntriesByType("navigation")[0], ...performance.getEntriesByType("resource")]
	  .map(e => ({name: e.name, size: e.decodedBodySize}))`)
	total := 0.0
	var parts []string
	for _, e := range entries {
		if e.Size == 0 {
			t.Errorf("the browser reports no size for %s", e.Name)
		}
		total += e.Size
		parts = append(parts, fmt.Sprintf("%s %.0f B", strings.TrimPrefix(e.Name, l.URL), e.Size))
	}
	if len(entries) < 4 {
		t.Errorf("the page loaded %d resources (%v); want the page, two stylesheets and the script", len(entries), parts)
	}
	t.Logf("/login weighs %.0f bytes: %s", total, strings.Join(parts, ", "))
	if total >= 50*1024 {
		t.Errorf("/login weighs %.0f bytes uncompressed, want < 50 KB", total)
	}
}
