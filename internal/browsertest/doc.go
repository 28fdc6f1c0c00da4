// Package browsertest drives latch's hosted pages in a real headless
// Chromium (github.com/chromedp/chromedp), against the real latch binary
// started by internal/e2e: sign-up with an emailed link, the account page,
// the authorization-code flow into test relying parties, the refresh
// cookie of a single-page app, cross-site form refusal, pages without
// JavaScript, keyboard use, console and network hygiene, page weight, and
// a screenshot gallery.
//
// It has only tests. It owns no production code and must not change what
// it tests: a defect it finds is reported, and fixed in internal/web,
// internal/server or internal/auth.
//
// Running it:
//
//   - Chromium is looked for at /usr/bin/chromium, then as chromium,
//     chromium-browser, google-chrome on PATH (Debian: apt-get install
//     chromium). It runs headless, without its sandbox (CI runs as root).
//     When Chromium is missing or cannot start, the tests skip, unless CI
//     or LATCH_BROWSER_TESTS=1 is set: then they fail, so CI never passes
//     without running them.
//
//   - With LATCH_TEST_POSTGRES_URL set, the flows that store something run
//     on PostgreSQL too, each in a schema of its own (pgtest).
//
//   - LATCH_SCREENSHOTS names a directory for the screenshots (a relative
//     path is taken from the repository root); unset, they go to the
//     test's temporary directory. To regenerate the gallery:
//
//     LATCH_SCREENSHOTS=docs/screenshots go test ./internal/browsertest -run Screenshots
package browsertest
