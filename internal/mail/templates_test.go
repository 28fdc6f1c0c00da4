package mail_test

import (
	"context"
	"errors"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/latchauth/latch/internal/i18n"
	"github.com/latchauth/latch/internal/mail"
	"github.com/latchauth/latch/internal/mail/mailtest"
)

func newTemplates(t *testing.T) *mail.Templates {
	t.Helper()
	tp, err := mail.NewTemplates("Acme ID", "#0a7d4f")
	if err != nil {
		t.Fatalf("NewTemplates: %v", err)
	}
	return tp
}

var fullData = mail.Data{
	Link:      "https://auth.example.com/v1/verify?token=abc123&next=%2F",
	Code:      "493021",
	NewEmail:  "new@example.com",
	ExpiresIn: time.Hour,
	Time:      time.Date(2026, 3, 14, 15, 9, 26, 0, time.FixedZone("CET", 3600)),
	IP:        "192.0.2.7",
	Provider:  "Google",
	Factor:    "YubiKey",
	Remaining: 2,
}

func TestKinds(t *testing.T) {
	want := []string{
		"account_claimed", "email_change", "email_change_notice", "email_change_taken",
		"factor_added", "factor_removed", "identity_linked", "identity_unlinked", "invite",
		"mfa_reset", "otp", "password_changed", "recover", "recovery_code_used",
		"recovery_codes", "signup_existing", "verify",
	}
	if diff := cmp.Diff(want, newTemplates(t).Kinds()); diff != "" {
		t.Errorf("Kinds (-want +got):\n%s", diff)
	}
}

func TestRenderEveryKind(t *testing.T) {
	tp := newTemplates(t)
	// What each kind must show with fullData, besides the product, the
	// link and the recipient, which all show.
	extra := map[string][]string{
		"verify":              {"1 hour"},
		"signup_existing":     {"1 hour", "already has an account"},
		"recover":             {"1 hour", "your password is unchanged"},
		"invite":              {"1 hour", "created an account", "works once"},
		"password_changed":    {"14 March 2026 at 14:09 UTC", "192.0.2.7"},
		"email_change":        {"1 hour", "new@example.com"},
		"email_change_notice": {"new@example.com", "14 March 2026 at 14:09 UTC", "192.0.2.7", "Nothing changes unless"},
		"email_change_taken":  {"nothing was changed"},
		"otp":                 {"493021", "1 hour", "Never share this code"},
		"identity_linked":     {"Your Acme ID account (ada@example.com) was linked to Google on 14 March 2026", "14 March 2026 at 14:09 UTC", "192.0.2.7", "sign in with Google"},
		"identity_unlinked":   {"Google was removed", "14 March 2026 at 14:09 UTC", "192.0.2.7"},
		"account_claimed":     {"with Google", "14 March 2026 at 14:09 UTC", "192.0.2.7", "password that had been set on it was removed", "signed out", "Secure your Google account"},
		"factor_added":        {"“YubiKey” was added as a second sign-in step", "14 March 2026 at 14:09 UTC", "192.0.2.7", "remove “YubiKey” on your account page", "ask an administrator of Acme ID"},
		"factor_removed":      {"“YubiKey” was removed", "14 March 2026 at 14:09 UTC", "192.0.2.7", "no longer be used"},
		"recovery_codes":      {"New recovery codes were made", "14 March 2026 at 14:09 UTC", "192.0.2.7", "no longer work", "make new recovery codes"},
		"recovery_code_used":  {"A recovery code was used to sign in", "14 March 2026 at 14:09 UTC", "192.0.2.7", "only 2 unused recovery codes left", "make new codes on your account page"},
		"mfa_reset":           {"An administrator of Acme ID removed every second sign-in step", "14 March 2026 at 14:09 UTC", "set up two-step verification again"},
	}
	for _, kind := range tp.Kinds() {
		t.Run(kind, func(t *testing.T) {
			m, err := tp.Render(kind, "ada@example.com", fullData)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if m.Kind != kind || m.To != "ada@example.com" {
				t.Errorf("Kind, To = %q, %q; want %q, ada@example.com", m.Kind, m.To, kind)
			}
			if !strings.Contains(m.Subject, "Acme ID") || strings.ContainsAny(m.Subject, "\r\n") {
				t.Errorf("Subject = %q, want one line naming the product", m.Subject)
			}
			wants := append([]string{"Acme ID", fullData.Link}, extra[kind]...)
			// The button carries the brand colour, as the pages do.
			if strings.Contains(m.HTML, html.EscapeString(fullData.Link)) && !strings.Contains(m.HTML, "background:#0a7d4f") {
				t.Errorf("HTML button without the brand colour:\n%s", m.HTML)
			}
			if kind != "email_change" {
				wants = append(wants, "ada@example.com")
			}
			for _, w := range wants {
				if !strings.Contains(m.Text, w) {
					t.Errorf("Text lacks %q:\n%s", w, m.Text)
				}
				if !strings.Contains(m.HTML, html.EscapeString(w)) {
					t.Errorf("HTML lacks %q:\n%s", html.EscapeString(w), m.HTML)
				}
			}
			// The link is both a button (href) and printed as text.
			if n := strings.Count(m.HTML, `href="`+html.EscapeString(fullData.Link)+`"`); n != 2 {
				t.Errorf("HTML has the link in %d hrefs, want 2 (button and text):\n%s", n, m.HTML)
			}
			checkTidy(t, m.Text)
		})
	}
}

func checkTidy(t *testing.T, text string) {
	t.Helper()
	if strings.Contains(text, "\n\n\n") || regexp.MustCompile(`[ \t]\n`).MatchString(text) ||
		strings.HasPrefix(text, "\n") || !strings.HasSuffix(text, "\n") {
		t.Errorf("text is not tidy (blank runs, trailing spaces):\n%q", text)
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "    ") {
			t.Errorf("line starts with a stray space: %q", line)
		}
	}
}

// Render never panics on zero Data: it renders, or says which field the
// kind needs.
func TestRenderZeroData(t *testing.T) {
	tp := newTemplates(t)
	needs := map[string]string{
		"verify": "Link", "recover": "Link", "invite": "Link", "email_change": "Link",
		"email_change_notice": "NewEmail", "otp": "Code",
		"identity_linked": "Provider", "identity_unlinked": "Provider", "account_claimed": "Provider",
		"factor_added": "Factor", "factor_removed": "Factor",
	}
	for _, kind := range tp.Kinds() {
		t.Run(kind, func(t *testing.T) {
			m, err := tp.Render(kind, "ada@example.com", mail.Data{})
			if field, ok := needs[kind]; ok {
				if err == nil || !strings.Contains(err.Error(), field) {
					t.Fatalf("Render = %v, want an error naming %s", err, field)
				}
				return
			}
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if m.Subject == "" || m.Text == "" || m.HTML == "" {
				t.Errorf("empty part: %+v", m)
			}
			checkTidy(t, m.Text)
		})
	}
	// The least each kind needs is enough.
	for kind, field := range needs {
		var d mail.Data
		switch field {
		case "Link":
			d.Link = "https://auth.example.com/x"
		case "NewEmail":
			d.NewEmail = "new@example.com"
		case "Code":
			d.Code = "123456"
		case "Provider":
			d.Provider = "GitHub"
		case "Factor":
			d.Factor = "Authenticator app"
		}
		m, err := tp.Render(kind, "ada@example.com", d)
		if err != nil {
			t.Errorf("Render(%s, only %s): %v", kind, field, err)
			continue
		}
		checkTidy(t, m.Text)
	}
}

func TestRenderEscapesHTML(t *testing.T) {
	tp, err := mail.NewTemplates(`Acme <b>"ID"</b>`, "")
	if err != nil {
		t.Fatal(err)
	}
	hostile := `<script>alert("x")</script>@example.com`
	for _, kind := range []string{"email_change", "email_change_notice"} {
		m, err := tp.Render(kind, "ada@example.com", mail.Data{Link: "https://auth.example.com/x", NewEmail: hostile})
		if err != nil {
			t.Fatalf("Render %s: %v", kind, err)
		}
		for _, bad := range []string{"<script>", "<b>"} {
			if strings.Contains(m.HTML, bad) {
				t.Errorf("%s HTML contains %q unescaped", kind, bad)
			}
		}
		if !strings.Contains(m.HTML, "&lt;script&gt;") {
			t.Errorf("%s HTML lacks the escaped address", kind)
		}
		// The text part is plain text: shown as written.
		if !strings.Contains(m.Text, hostile) {
			t.Errorf("%s Text lacks %q", kind, hostile)
		}
	}
}

// The provider's name is the operator's, but it still reaches the HTML
// only as text: markup and quotes in it come out inert, in the body and
// in the title, and the subject stays one line.
func TestRenderEscapesProvider(t *testing.T) {
	tp := newTemplates(t)
	hostile := `<script>alert("x")</script> 'Go"ogle' & <img src=x onerror=alert(1)>`
	for _, kind := range []string{"identity_linked", "identity_unlinked", "account_claimed"} {
		t.Run(kind, func(t *testing.T) {
			d := fullData
			d.Provider = hostile
			m, err := tp.Render(kind, "ada@example.com", d)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			for _, bad := range []string{"<script>", "<img", `"x"`, `Go"ogle`, "'Go"} {
				if strings.Contains(m.HTML, bad) {
					t.Errorf("HTML contains %q unescaped:\n%s", bad, m.HTML)
				}
			}
			if want := html.EscapeString(hostile); !strings.Contains(m.HTML, want) {
				t.Errorf("HTML lacks the escaped provider %q:\n%s", want, m.HTML)
			}
			title := regexp.MustCompile(`<title>([^<]*)</title>`).FindStringSubmatch(m.HTML)
			if title == nil || !strings.Contains(title[1], "&lt;script&gt;") {
				t.Errorf("title = %q, want the escaped provider", title)
			}
			if !strings.Contains(m.Text, hostile) {
				t.Errorf("Text lacks the provider as written:\n%s", m.Text)
			}
			if !strings.Contains(m.Subject, hostile) || strings.ContainsAny(m.Subject, "\r\n") {
				t.Errorf("Subject = %q, want one line naming the provider", m.Subject)
			}
		})
	}
}

// Without Link, the social sign-in notices still say what to do if it
// was not you, in a sentence instead of a button; without Time and IP
// they say what happened without when and from where.
func TestIdentityNoticesWithLeastData(t *testing.T) {
	tp := newTemplates(t)
	tests := []struct {
		kind string
		want []string
	}{
		{"identity_linked", []string{"Your Acme ID account (ada@example.com) was linked to GitHub.", "You can now sign in with GitHub.", "Reset your password now from the sign-in page, then remove GitHub on your account page."}},
		{"identity_unlinked", []string{"GitHub was removed from the ways you can sign in to your Acme ID account (ada@example.com).", "Reset your password now from the sign-in page."}},
		{"account_claimed", []string{"Someone signed in to Acme ID with GitHub.", "(ada@example.com)", "sign in with GitHub from now on", "reset your Acme ID password from the sign-in page."}},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			checkLeastData(t, tp, tt.kind, mail.Data{Provider: "GitHub"}, tt.want)
		})
	}
}

// checkLeastData renders a notice of kind with d, which has no Time, IP or
// Link, and checks that it says each of want in its text and its HTML, and
// nothing of a time, an IP address or a link.
func checkLeastData(t *testing.T, tp *mail.Templates, kind string, d mail.Data, want []string) mail.Message {
	t.Helper()
	m, err := tp.Render(kind, "ada@example.com", d)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	for _, w := range want {
		if !strings.Contains(m.Text, w) || !strings.Contains(m.HTML, html.EscapeString(w)) {
			t.Errorf("text and HTML should say %q:\n%s", w, m.Text)
		}
	}
	for _, bad := range []string{"UTC", "IP address", "href="} {
		if strings.Contains(m.Text, bad) || strings.Contains(m.HTML, bad) {
			t.Errorf("%q without Time, IP or Link:\n%s", bad, m.Text)
		}
	}
	return m
}

// The notices of second factors, like the social ones, read right with
// the least they need: what happened, without when or from where, and a
// sentence pointing to the sign-in page instead of a button.
func TestFactorNoticesWithLeastData(t *testing.T) {
	tp := newTemplates(t)
	tests := []struct {
		kind string
		want []string
	}{
		{"factor_added", []string{
			"“Authenticator app” was added as a second sign-in step to your Acme ID account (ada@example.com). It can now be used",
			"Reset your password now from the sign-in page, then remove “Authenticator app” on your account page.",
			"If signing in asks for “Authenticator app” and you do not have it, ask an administrator of Acme ID to remove it.",
		}},
		{"factor_removed", []string{
			"“Authenticator app” was removed from the sign-in steps of your Acme ID account (ada@example.com). It can no longer",
			"Reset your password now from the sign-in page, then check two-step verification on your account page.",
		}},
		{"recovery_codes", []string{
			"New recovery codes were made for your Acme ID account (ada@example.com). Any recovery codes you had before no longer work.",
			"Reset your password now from the sign-in page, then make new recovery codes on your account page.",
		}},
		{"recovery_code_used", []string{
			"A recovery code was used to sign in to your Acme ID account (ada@example.com). That code cannot be used again.",
			"You have no unused recovery codes left: make new codes on your account page.",
			"Reset your password now from the sign-in page, then make new recovery codes on your account page.",
		}},
		{"mfa_reset", []string{
			"An administrator of Acme ID removed every second sign-in step (authenticator apps, passkeys, security keys and recovery codes) from your account (ada@example.com). Until",
			"Reset your password now from the sign-in page, then set up two-step verification again on your account page.",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			m := checkLeastData(t, tp, tt.kind, mail.Data{Factor: "Authenticator app"}, tt.want)
			checkTidy(t, m.Text)
		})
	}
}

// A recovery code's notice says how many are left in a sentence that
// fits the count, and asks for new codes when 3 or fewer are left.
func TestRecoveryCodesLeft(t *testing.T) {
	tp := newTemplates(t)
	const advice = "make new codes on your account page"
	tests := []struct {
		lang      string
		remaining int
		want      string
	}{
		{"en", 0, "You have no unused recovery codes left: " + advice + "."},
		{"en", 1, "You have only one unused recovery code left: " + advice + " before you run out."},
		{"en", 2, "You have only 2 unused recovery codes left: " + advice},
		{"en", 3, "You have only 3 unused recovery codes left: " + advice},
		{"en", 4, "You have 4 unused recovery codes left."},
		{"en", 9, "You have 9 unused recovery codes left."},
		{"de", 0, "Sie haben keine unbenutzten Wiederherstellungscodes mehr: Erstellen Sie auf Ihrer Kontoseite neue."},
		{"de", 1, "Sie haben nur noch einen unbenutzten Wiederherstellungscode: Erstellen Sie"},
		{"de", 3, "Sie haben nur noch 3 unbenutzte Wiederherstellungscodes: Erstellen Sie"},
		{"de", 4, "Sie haben noch 4 unbenutzte Wiederherstellungscodes."},
	}
	for _, tt := range tests {
		m, err := tp.Render("recovery_code_used", "ada@example.com", mail.Data{Remaining: tt.remaining, Lang: tt.lang})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(m.Text, tt.want) || !strings.Contains(m.HTML, tt.want) {
			t.Errorf("%s, %d left: text and HTML should say %q:\n%s", tt.lang, tt.remaining, tt.want, m.Text)
		}
		few := tt.remaining <= 3
		for part, body := range map[string]string{"text": m.Text, "html": m.HTML} {
			if got := strings.Contains(body, advice) || strings.Contains(body, "Erstellen Sie auf Ihrer Kontoseite neue"); got != few {
				t.Errorf("%s, %d left: %s asks for new codes = %v, want %v", tt.lang, tt.remaining, part, got, few)
			}
		}
	}
}

// The administrator's reset shows when it happened but not the IP
// address it came from, which would be the administrator's.
func TestMFAResetShowsNoIP(t *testing.T) {
	tp := newTemplates(t)
	for _, lang := range []string{"en", "de"} {
		d := fullData
		d.Lang = lang
		m, err := tp.Render("mfa_reset", "ada@example.com", d)
		if err != nil {
			t.Fatal(err)
		}
		for part, body := range map[string]string{"text": m.Text, "html": m.HTML} {
			if strings.Contains(body, d.IP) {
				t.Errorf("%s %s shows the IP address:\n%s", lang, part, body)
			}
			if !strings.Contains(body, "14:09 UTC") {
				t.Errorf("%s %s lacks the time:\n%s", lang, part, body)
			}
		}
	}
}

// A factor's name is its owner's (or an intruder's) words: it reaches
// the HTML only as text, never the subject, and the text part in quotes
// as written.
func TestRenderEscapesFactor(t *testing.T) {
	tp := newTemplates(t)
	hostile := `<a href="https://evil.example">Click</a> 'x' & <img src=x>`
	for _, kind := range []string{"factor_added", "factor_removed"} {
		t.Run(kind, func(t *testing.T) {
			d := fullData
			d.Factor = hostile
			m, err := tp.Render(kind, "ada@example.com", d)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			for _, bad := range []string{"<a href=\"https://evil", "<img", "'x'"} {
				if strings.Contains(m.HTML, bad) {
					t.Errorf("HTML contains %q unescaped:\n%s", bad, m.HTML)
				}
			}
			if want := html.EscapeString("“" + hostile + "”"); !strings.Contains(m.HTML, want) {
				t.Errorf("HTML lacks the escaped, quoted name %q:\n%s", want, m.HTML)
			}
			if !strings.Contains(m.Text, "“"+hostile+"”") {
				t.Errorf("Text lacks the quoted name as written:\n%s", m.Text)
			}
			if strings.Contains(m.Subject, "evil") {
				t.Errorf("Subject = %q, want it without the factor's name", m.Subject)
			}
		})
	}
}

func TestRenderRefuses(t *testing.T) {
	tp := newTemplates(t)
	tests := []struct {
		name, kind, to string
		d              mail.Data
		wantErr        string
	}{
		{"unknown kind", "recover_unknown", "ada@example.com", fullData, "unknown message kind"},
		{"empty kind", "", "ada@example.com", fullData, "unknown message kind"},
		{"bad to", "verify", "ada@example.com\r\nBcc: x@example.com", fullData, "invalid message"},
		{"named to", "verify", "Ada <ada@example.com>", fullData, "invalid message"},
		{"javascript link", "verify", "ada@example.com", mail.Data{Link: "javascript:alert(1)"}, "Link"},
		{"relative link", "verify", "ada@example.com", mail.Data{Link: "/v1/verify?token=x"}, "Link"},
		{"link with a line break", "verify", "ada@example.com", mail.Data{Link: "https://a.example/x\nClick here: https://evil.example"}, "Link"},
		{"code with a line break", "otp", "ada@example.com", mail.Data{Code: "123\n456"}, "Code"},
		{"negative expiry", "otp", "ada@example.com", mail.Data{Code: "123456", ExpiresIn: -time.Minute}, "ExpiresIn"},
		{"blank provider", "identity_linked", "ada@example.com", mail.Data{Provider: "  "}, "Provider is required"},
		{"provider with a line break", "account_claimed", "ada@example.com", mail.Data{Provider: "Google\nBcc: x@example.com"}, "Provider"},
		{"blank factor", "factor_added", "ada@example.com", mail.Data{Factor: " \t"}, "Factor is required"},
		{"no factor", "factor_removed", "ada@example.com", mail.Data{IP: "192.0.2.7"}, "Factor is required"},
		{"factor with a line break", "factor_removed", "ada@example.com", mail.Data{Factor: "YubiKey\r\nClick https://evil.example"}, "Factor"},
		{"negative remaining", "recovery_code_used", "ada@example.com", mail.Data{Remaining: -1}, "Remaining"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tp.Render(tt.kind, tt.to, tt.d)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Render = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
	_, err := tp.Render("verify", "x", fullData)
	if !errors.Is(err, mail.ErrInvalidMessage) {
		t.Errorf("Render to a bad address = %v, want ErrInvalidMessage", err)
	}
}

func TestNewTemplatesRefusesProduct(t *testing.T) {
	for _, product := range []string{"", "   ", "Acme\nBcc: x@example.com", "Acme\x00"} {
		if _, err := mail.NewTemplates(product, ""); err == nil {
			t.Errorf("NewTemplates(%q): nil error", product)
		}
	}
}

func TestRenderExpiresWording(t *testing.T) {
	tp := newTemplates(t)
	tests := []struct {
		d    time.Duration
		want string
	}{
		{30 * time.Second, "1 minute"},
		{time.Minute, "1 minute"},
		{10 * time.Minute, "10 minutes"},
		{time.Hour, "1 hour"},
		{90 * time.Minute, "1 hour 30 minutes"},
		{24 * time.Hour, "24 hours"},
		{72 * time.Hour, "3 days"},
	}
	for _, tt := range tests {
		m, err := tp.Render("otp", "ada@example.com", mail.Data{Code: "123456", ExpiresIn: tt.d})
		if err != nil {
			t.Fatal(err)
		}
		if want := "valid for " + tt.want + "."; !strings.Contains(m.Text, want) || !strings.Contains(m.HTML, want) {
			t.Errorf("ExpiresIn %v: text and HTML should say %q:\n%s", tt.d, want, m.Text)
		}
	}
}

// Every rendered kind survives the trip through SMTP, and a test can pick
// its link out of what arrived.
func TestRenderedMessagesArrive(t *testing.T) {
	tp := newTemplates(t)
	srv := mailtest.Start(t, mailtest.Options{})
	mailer := newMailer(t, srv, "", mail.SMTPOptions{})
	for _, kind := range tp.Kinds() {
		m, err := tp.Render(kind, kind+"@example.com", fullData)
		if err != nil {
			t.Fatalf("Render %s: %v", kind, err)
		}
		if err := mailer.Send(context.Background(), m); err != nil {
			t.Fatalf("Send %s: %v", kind, err)
		}
		got := srv.Wait(t, 5*time.Second, func(r mailtest.Received) bool { return r.To[0] == kind+"@example.com" })
		if got.Subject != m.Subject || got.Text != m.Text || got.HTML != m.HTML {
			t.Errorf("%s arrived changed:\nsubject %q\ntext %q", kind, got.Subject, got.Text)
		}
		if link := got.Link("https://auth.example.com/"); link != fullData.Link {
			t.Errorf("%s: Link = %q, want %q", kind, link, fullData.Link)
		}
	}
}

// Every message renders in every language latch ships, from the same
// catalog as the pages: no key left as it is, no {placeholder} unfilled.
func TestRenderEveryKindInEveryLanguage(t *testing.T) {
	tp := newTemplates(t)
	leak := regexp.MustCompile(`\{[a-z_]+\}|\bmail\.[a-z_]+\.[a-z_]+`)
	for _, lang := range i18n.MustLoad().Languages() {
		for _, kind := range tp.Kinds() {
			d := fullData
			d.Lang = lang
			m, err := tp.Render(kind, "ada@example.com", d)
			if err != nil {
				t.Fatalf("%s %s: %v", lang, kind, err)
			}
			for part, text := range map[string]string{"subject": m.Subject, "text": m.Text, "html": m.HTML} {
				if strings.TrimSpace(text) == "" || leak.MatchString(text) {
					t.Errorf("%s %s %s: %q", lang, kind, part, leak.FindString(text))
				}
			}
		}
	}
	d := fullData
	d.Lang = "de"
	m, err := tp.Render("recover", "ada@example.com", d)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Passwort", "1 Stunde", "Guten Tag"} {
		if !strings.Contains(m.Text, want) || !strings.Contains(m.HTML, want) {
			t.Errorf("German reset message lacks %q:\n%s", want, m.Text)
		}
	}
	if !strings.Contains(m.HTML, `<html lang="de">`) {
		t.Error("German message without lang=de")
	}
	m, _ = tp.Render("password_changed", "ada@example.com", d)
	if !strings.Contains(m.Text, "14. März 2026 um 14:09 UTC") {
		t.Errorf("German date: %s", m.Text)
	}
	for kind, want := range map[string]string{
		"identity_linked":    "mit einem Google-Konto verknüpft",
		"identity_unlinked":  "Google wurde am 14. März 2026 um 14:09 UTC von der IP-Adresse 192.0.2.7 aus als Anmeldemöglichkeit",
		"account_claimed":    "Das zuvor dafür gesetzte Passwort wurde entfernt",
		"factor_added":       "von der IP-Adresse 192.0.2.7 aus „YubiKey“ als zweiter Anmeldeschritt hinzugefügt",
		"factor_removed":     "„YubiKey“ von der IP-Adresse 192.0.2.7 aus als zweiter Anmeldeschritt für Ihr Konto",
		"recovery_codes":     "Frühere Wiederherstellungscodes gelten nicht mehr",
		"recovery_code_used": "Sie haben nur noch 2 unbenutzte Wiederherstellungscodes: Erstellen Sie auf Ihrer Kontoseite neue",
		"mfa_reset":          "Bestätigung in zwei Schritten möglichst bald auf Ihrer Kontoseite wieder ein",
	} {
		m, err := tp.Render(kind, "ada@example.com", d)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(m.Text, want) || !strings.Contains(m.HTML, want) {
			t.Errorf("German %s lacks %q:\n%s", kind, want, m.Text)
		}
	}
}

// The templates (and templates.go, which labels the layout's button)
// use exactly the catalog's mail.* keys: a key missing
// from the catalog would be printed as it is, and a key no template uses
// is a sentence translators keep up for nothing.
func TestTemplatesUseTheCatalogsKeys(t *testing.T) {
	files, err := filepath.Glob("templates/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("templates: %v %v", files, err)
	}
	files = append(files, "templates.go") // the button's fallback line
	key := regexp.MustCompile(`"(mail\.[a-z_.]+)"`)
	used := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range key.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = true
		}
		// A block layout.html defines once names a kind's own keys with
		// (.Key "name"): each kind that calls it uses mail.KIND.name.
		if kind, ok := strings.CutSuffix(filepath.Base(f), ".html"); ok && kind != "layout" {
			for _, name := range layoutKeys(t, string(b)) {
				used["mail."+kind+"."+name] = true
			}
		}
	}
	c := i18n.MustLoad()
	en := c.Lang(i18n.Fallback)
	for k := range used {
		if !en.Has(k) {
			t.Errorf("templates use %q, which the catalog lacks", k)
		}
	}
	for _, k := range c.Keys(i18n.Fallback) {
		if strings.HasPrefix(k, "mail.") && !used[k] {
			t.Errorf("catalog has %q, which no template uses", k)
		}
	}
}

// layoutKeys lists the names given to .Key in the blocks of layout.html
// that src calls, directly or through another block.
func layoutKeys(t *testing.T, src string) []string {
	t.Helper()
	b, err := os.ReadFile("templates/layout.html")
	if err != nil {
		t.Fatal(err)
	}
	blocks := map[string]string{}
	for _, chunk := range strings.Split(string(b), "\n{{define \"")[1:] {
		name, body, _ := strings.Cut(chunk, "\"")
		blocks[name] = body
	}
	call := regexp.MustCompile(`{{template "([a-z_]+)"`)
	keyOf := regexp.MustCompile(`\(\.Key "([a-z_]+)"\)`)
	var names []string
	seen := map[string]bool{}
	var visit func(string)
	visit = func(s string) {
		for _, m := range call.FindAllStringSubmatch(s, -1) {
			if body, ok := blocks[m[1]]; ok && !seen[m[1]] {
				seen[m[1]] = true
				for _, k := range keyOf.FindAllStringSubmatch(body, -1) {
					names = append(names, k[1])
				}
				visit(body)
			}
		}
	}
	visit(src)
	return names
}
