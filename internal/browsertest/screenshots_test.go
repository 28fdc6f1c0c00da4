package browsertest

import (
	"testing"
	"time"
)

// TestScreenshots photographs every stop of the tour at a desktop's size
// (1280×860) and a small phone's (320 px wide), in the light scheme, and
// the sign-in and account pages in the dark scheme too: name-desktop.png,
// name-320.png, name-dark.png. With LATCH_SCREENSHOTS=docs/screenshots it
// regenerates the gallery; the pictures are for people to look at, the
// test only checks that every page can be drawn.
func TestScreenshots(t *testing.T) {
	t.Parallel()
	l := startTourLatch(t)
	p := newPerson(t, "gallery", time.Minute)
	dark := map[string]bool{"login": true, "account": true, "factor-totp": true, "mfa": true}
	for _, s := range tour {
		s.visit(p, l)
		p.viewport(1280, 860, false)
		p.screenshot(s.name + "-desktop")
		p.viewport(320, 640, true)
		p.screenshot(s.name + "-320")
		if dark[s.name] {
			p.viewport(1280, 860, false)
			p.colorScheme("dark")
			p.screenshot(s.name + "-dark")
			p.colorScheme("light")
		}
		p.viewport(1280, 860, false)
	}
	t.Logf("screenshots in %s", p.shot.dir)
}
