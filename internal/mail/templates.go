package mail

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/latchauth/latch/internal/i18n"
)

// Data is what a template may show. Which fields a kind needs is listed
// with Templates.Render.
type Data struct {
	Link      string        // the URL to follow; "" if none
	Code      string        // a short one-time code; "" if none
	NewEmail  string        // email change: the address moving to
	ExpiresIn time.Duration // how long Link/Code stay valid
	Time      time.Time     // when the event happened (notices)
	IP        string        // from where (notices); "" if unknown
	Provider  string        // social sign-in: the provider's display name ("Google")
	Factor    string        // a second factor's name as its owner sees it ("Authenticator app", "YubiKey")
	Remaining int           // recovery_code_used: how many unused recovery codes are left
	Lang      string        // the language to write in, a tag of latch's catalog; "" for English
}

//go:embed templates
var files embed.FS

// needs is what a kind cannot be rendered without.
type needs uint8

const (
	needLink needs = 1 << iota
	needCode
	needNewEmail
	needProvider
	needFactor
)

// kinds lists every message latch sends and what each one needs.
func kinds() map[string]needs {
	return map[string]needs{
		"verify":              needLink,
		"signup_existing":     0,
		"recover":             needLink,
		"invite":              needLink,
		"password_changed":    0,
		"email_change":        needLink,
		"email_change_notice": needNewEmail,
		"email_change_taken":  0,
		"otp":                 needCode,
		"identity_linked":     needProvider,
		"identity_unlinked":   needProvider,
		"account_claimed":     needProvider,
		"factor_added":        needFactor,
		"factor_removed":      needFactor,
		"recovery_codes":      0,
		"recovery_code_used":  0,
		"mfa_reset":           0,
	}
}

// Templates renders latch's messages from the templates embedded under
// templates/: for each kind, KIND.txt defines "subject" and "text" (with
// text/template) and KIND.html defines "content" inside layout.html (with
// html/template, which escapes every value).
type Templates struct {
	catalog *i18n.Catalog
	product string
	kinds   map[string]kind
}

type kind struct {
	needs needs
	text  *texttemplate.Template
	html  *htmltemplate.Template
}

// DefaultBrandColor is the colour of a message's button unless the
// operator sets LATCH_BRAND_COLOR: the same as latch's pages.
const DefaultBrandColor = "#4f46e5"

// NewTemplates parses the embedded templates for product, the name shown
// in every subject and body ("Example"), with brand (#rrggbb; "" for
// DefaultBrandColor) as the colour of buttons and links, as on latch's
// pages. product must not be empty or hold a control character.
func NewTemplates(product, brand string) (*Templates, error) {
	product = strings.TrimSpace(product)
	if product == "" {
		return nil, fmt.Errorf("mail: empty product name")
	}
	if hasControl(product) {
		return nil, fmt.Errorf("mail: product name %q has a control character", product)
	}
	if brand == "" {
		brand = DefaultBrandColor
	}
	if !isHexColor(brand) {
		return nil, fmt.Errorf("mail: brand colour %q is not #rrggbb", brand)
	}
	layoutSrc, err := files.ReadFile("templates/layout.html")
	if err != nil {
		return nil, err
	}
	// The layout writes the colour as a placeholder; a checked #rrggbb
	// replaces it before parsing, so it is part of the trusted template
	// rather than a value html/template would have to judge.
	layout := strings.ReplaceAll(string(layoutSrc), "BRANDCOLOR", brand)
	t := &Templates{catalog: i18n.MustLoad(), product: product, kinds: map[string]kind{}}
	for name, n := range kinds() {
		text, err := texttemplate.ParseFS(files, "templates/"+name+".txt")
		if err != nil {
			return nil, fmt.Errorf("mail: template %s: %w", name, err)
		}
		html, err := htmltemplate.Must(htmltemplate.New("layout.html").Parse(layout)).ParseFS(files, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("mail: template %s: %w", name, err)
		}
		for _, def := range []string{"subject", "text"} {
			if text.Lookup(def) == nil {
				return nil, fmt.Errorf("mail: template %s.txt defines no %q", name, def)
			}
		}
		if html.Lookup("content") == nil {
			return nil, fmt.Errorf("mail: template %s.html defines no \"content\"", name)
		}
		t.kinds[name] = kind{needs: n, text: text, html: html}
	}
	return t, nil
}

// Kinds lists the kinds Render knows, sorted.
func (t *Templates) Kinds() []string {
	names := make([]string, 0, len(t.kinds))
	for name := range t.kinds {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Render makes the message of kind for the address to.
//
// The kinds, and the Data each one needs (Render fails without it):
//
//	verify               confirm your address: Link
//	signup_existing      someone signed up with your address: Link optional (the reset page)
//	recover              reset your password: Link
//	password_changed     your password was changed: Time, IP and Link (reset) optional
//	email_change         to the NEW address, confirm the move: Link; NewEmail defaults to to
//	email_change_notice  to the OLD address, a move was asked: NewEmail; Time, IP, Link optional
//	email_change_taken   to an address that has an account, someone tried to move another to it
//	otp                  a sign-in code: Code; Link optional (a sign-in link)
//	identity_linked      a provider's account was linked for sign-in: Provider; Time, IP, Link (reset) optional
//	identity_unlinked    a provider was removed from the ways to sign in: Provider; Time, IP, Link (reset) optional
//	account_claimed      a provider proved the address of an unconfirmed account, whose
//	                     password was removed and sessions ended: Provider; Time, IP, Link (reset) optional
//	factor_added         a second factor was added: Factor; Time, IP, Link (reset) optional
//	factor_removed       a second factor was removed: Factor; Time, IP, Link (reset) optional
//	recovery_codes       new recovery codes were made, the old ones no longer work: Time, IP, Link (reset) optional
//	recovery_code_used   a recovery code was used to sign in: Remaining (0 is "none left"; 3 or fewer
//	                     asks for new codes); Time, IP, Link (reset) optional
//	mfa_reset            an administrator removed every second factor: Time, Link (reset) optional
//	                     (IP is not shown: it would be the administrator's)
//
// ExpiresIn, when set, is written out ("1 hour", "10 minutes") wherever
// there is a link or a code. Link must be an absolute http or https URL.
func (t *Templates) Render(kind, to string, d Data) (Message, error) {
	k, ok := t.kinds[kind]
	if !ok {
		return Message{}, fmt.Errorf("mail: unknown message kind %q", kind)
	}
	if err := checkAddress(to); err != nil {
		return Message{}, err
	}
	if err := d.check(kind, k.needs); err != nil {
		return Message{}, err
	}
	tr := t.catalog.Lang(d.Lang)
	v := view{
		kind:      kind,
		Lang:      tr.Tag(),
		tr:        tr,
		Product:   t.product,
		To:        to,
		Link:      d.Link,
		Code:      d.Code,
		NewEmail:  d.NewEmail,
		Expires:   duration(d.ExpiresIn, tr.Tag()),
		IP:        d.IP,
		Provider:  strings.TrimSpace(d.Provider),
		Factor:    strings.TrimSpace(d.Factor),
		Remaining: d.Remaining,
	}
	if v.NewEmail == "" && kind == "email_change" {
		v.NewEmail = to
	}
	if !d.Time.IsZero() {
		v.When = date(d.Time, tr.Tag())
	}

	var subject, text, html bytes.Buffer
	if err := k.text.ExecuteTemplate(&subject, "subject", v); err != nil {
		return Message{}, fmt.Errorf("mail: render %s subject: %w", kind, err)
	}
	v.Subject = strings.Join(strings.Fields(subject.String()), " ")
	if err := k.text.ExecuteTemplate(&text, "text", v); err != nil {
		return Message{}, fmt.Errorf("mail: render %s text: %w", kind, err)
	}
	if err := k.html.ExecuteTemplate(&html, "layout", v); err != nil {
		return Message{}, fmt.Errorf("mail: render %s html: %w", kind, err)
	}
	m := Message{Kind: kind, To: to, Subject: v.Subject, Text: tidy(text.String()), HTML: html.String()}
	if err := m.check(); err != nil {
		return Message{}, fmt.Errorf("mail: render %s: %w", kind, err)
	}
	return m, nil
}

// view is what the templates see.
type view struct {
	kind     string
	Lang     string // the catalog's tag, for <html lang>
	tr       i18n.Lang
	Product  string
	Subject  string // set once rendered, for the HTML title
	To       string
	Link     string
	Code     string
	NewEmail string
	Expires  string // "1 hour"; "" when ExpiresIn is 0
	When     string // "2 January 2006 at 15:04 UTC"; "" when Time is zero
	IP       string
	Provider string
	Factor   string
	// Remaining is recovery_code_used's count; its template picks the
	// sentence, so that no language has to write "1 codes".
	Remaining int
}

// check refuses missing fields the kind needs and values that could
// change the meaning of the text around them (a line break in a code).
func (d Data) check(kind string, n needs) error {
	for _, f := range []struct {
		name, value string
		need        bool
	}{
		{"Link", d.Link, n&needLink != 0},
		{"Code", d.Code, n&needCode != 0},
		{"NewEmail", d.NewEmail, n&needNewEmail != 0},
		{"IP", d.IP, false},
		{"Provider", d.Provider, n&needProvider != 0},
		{"Factor", d.Factor, n&needFactor != 0},
	} {
		// Blank is missing too: "A   account was linked" says nothing.
		if f.need && strings.TrimSpace(f.value) == "" {
			return fmt.Errorf("mail: render %s: %s is required", kind, f.name)
		}
		if hasControl(f.value) {
			return fmt.Errorf("mail: render %s: %s has a control character", kind, f.name)
		}
	}
	if d.Link != "" {
		u, err := url.Parse(d.Link)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.ContainsAny(d.Link, " <>\"") {
			return fmt.Errorf("mail: render %s: Link is not an absolute http(s) URL", kind)
		}
	}
	if strings.ContainsAny(d.Code, " ") {
		return fmt.Errorf("mail: render %s: Code has a space", kind)
	}
	if d.ExpiresIn < 0 {
		return fmt.Errorf("mail: render %s: negative ExpiresIn", kind)
	}
	if d.Remaining < 0 {
		return fmt.Errorf("mail: render %s: negative Remaining", kind)
	}
	return nil
}

// button is the argument of the layout's "button" template.
type button struct {
	Link, Label, Fallback string
}

// T is the catalog's message for key in the message's language, with
// every {name} a message may use filled from the view.
func (v view) T(key string) string {
	return v.tr.T(key, "product", v.Product, "to", v.To, "new_email", v.NewEmail,
		"expires", v.Expires, "when", v.When, "ip", v.IP, "provider", v.Provider,
		"factor", v.Factor, "remaining", strconv.Itoa(v.Remaining))
}

// Key is the catalog key of the message's own text name
// ("mail.verify.intro" for "intro" in a verify message), for the blocks
// layout.html defines once for several kinds.
func (v view) Key(name string) string {
	return "mail." + v.kind + "." + name
}

// Button is a button to link labelled with the catalog's message for key.
func (v view) Button(link, key string) button {
	return button{Link: link, Label: v.T(key), Fallback: v.T("mail.layout.button_fallback")}
}

// duration writes d as people say it in lang: "1 hour", "10 minutes",
// "24 hours", "1 hour 30 minutes", "3 days" ("1 Stunde", "3 Tage" in
// German). Seconds are rounded up to a minute.
func duration(d time.Duration, lang string) string {
	if d <= 0 {
		return ""
	}
	mins := int((d + time.Minute - 1) / time.Minute)
	days, hours, mins := mins/(24*60), mins/60%24, mins%60
	if days >= 2 && hours == 0 && mins == 0 {
		return plural(days, unitDay, lang)
	}
	hours += 24 * days
	switch {
	case hours > 0 && mins > 0:
		return plural(hours, unitHour, lang) + " " + plural(mins, unitMinute, lang)
	case hours > 0:
		return plural(hours, unitHour, lang)
	default:
		return plural(mins, unitMinute, lang)
	}
}

type unit int

const (
	unitMinute unit = iota
	unitHour
	unitDay
)

// units are the singular and plural of each unit, by language; English
// is the fallback.
var units = map[string][3][2]string{
	"en": {{"minute", "minutes"}, {"hour", "hours"}, {"day", "days"}},
	"de": {{"Minute", "Minuten"}, {"Stunde", "Stunden"}, {"Tag", "Tage"}},
}

func plural(n int, u unit, lang string) string {
	names, ok := units[lang]
	if !ok {
		names = units["en"]
	}
	if n == 1 {
		return "1 " + names[u][0]
	}
	return strconv.Itoa(n) + " " + names[u][1]
}

var germanMonths = [...]string{"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"}

// date writes when something happened, in UTC, as lang writes dates:
// "2 January 2006 at 15:04 UTC", "2. Januar 2006 um 15:04 UTC".
func date(t time.Time, lang string) string {
	t = t.UTC()
	if lang == "de" {
		return fmt.Sprintf("%d. %s %d um %s UTC", t.Day(), germanMonths[t.Month()-1], t.Year(), t.Format("15:04"))
	}
	return t.Format("2 January 2006 at 15:04 UTC")
}

var (
	trailingSpace = regexp.MustCompile(`[ \t]+\n`)
	blankLines    = regexp.MustCompile(`\n{3,}`)
)

// tidy lets the .txt templates be laid out for reading: it drops trailing
// spaces and runs of blank lines that conditionals leave behind.
func tidy(s string) string {
	s = trailingSpace.ReplaceAllString(s, "\n")
	s = blankLines.ReplaceAllString(s, "\n\n")
	return strings.TrimSpace(s) + "\n"
}

func isHexColor(s string) bool {
	if len(s) != 7 || s[0] != '#' {
		return false
	}
	for _, r := range strings.ToLower(s[1:]) {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}
