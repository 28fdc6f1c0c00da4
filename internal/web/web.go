package web

import (
	"context"
	"embed"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/latchauth/latch/internal/apperr"
	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/i18n"
)

//go:embed templates/*.html
var templateFiles embed.FS

// Theme is how the pages look: the product's name, logo and colour.
type Theme struct {
	Product string
	// LogoURL is shown in place of the monogram; "" for none. A logo on
	// another host is the one request a page makes elsewhere, and the
	// operator's choice.
	LogoURL string
	// BrandColor is a #rrggbb colour for the primary actions and links.
	BrandColor string
}

// Deps are what the pages need.
type Deps struct {
	Auth    *auth.Service
	Catalog *i18n.Catalog
	Theme   Theme
	// PublicURL is latch's public URL: the issuer of authorization
	// responses, and whether cookies are Secure (https) or, on a loopback
	// address in development, not.
	PublicURL *url.URL
	// RedirectURLs are where /v1/authorize may send a browser back to.
	RedirectURLs []string
	Passwordless bool // the sign-in page offers emailed codes
	// SignupOff hides self-service sign-up (LATCH_SIGNUP=off).
	SignupOff bool
	// UIOff serves only the pages that email links open (LATCH_UI=off).
	UIOff bool
	// MAC derives keyed MACs from the server secret (the CSRF tokens).
	MAC          func(purpose string, data []byte) []byte
	PasswordMin  int
	PasswordMax  int
	MaxBodyBytes int64
	Log          *slog.Logger
	// Answer finds the answer an error gets, as the API gives it (its
	// status decides the page's).
	Answer func(error) *apperr.Error
}

// Pages serves latch's browser side.
type Pages struct {
	d         Deps
	pages     map[string]*template.Template
	cookies   cookieNames
	secure    bool
	themeCSS  []byte
	icon      []byte
	formCSP   string // form-action sources of pages that continue to an application
	issuer    string
	protected *http.CrossOriginProtection
}

// New returns the pages; an error if a template does not parse (a build
// defect the tests catch).
func New(d Deps) (*Pages, error) {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Catalog == nil {
		d.Catalog = i18n.MustLoad()
	}
	if d.Theme.Product == "" {
		d.Theme.Product = "latch"
	}
	if d.PublicURL == nil {
		d.PublicURL = &url.URL{Scheme: "http", Host: "localhost:8080"}
	}
	p := &Pages{d: d, pages: map[string]*template.Template{}}
	if err := p.parse(); err != nil {
		return nil, err
	}
	p.secure = d.PublicURL.Scheme == "https"
	p.cookies = namesFor(p.secure)
	p.themeCSS = themeCSS(d.Theme.BrandColor)
	initial, _ := utf8.DecodeRuneInString(d.Theme.Product)
	p.icon = iconSVG(d.Theme.BrandColor, string(unicode.ToUpper(initial)))
	p.formCSP = formSources(d.RedirectURLs)
	p.issuer = strings.TrimSuffix(d.PublicURL.String(), "/")
	p.protected = http.NewCrossOriginProtection()
	p.protected.SetDenyHandler(http.HandlerFunc(p.crossOrigin))
	return p, nil
}

func (p *Pages) parse() error {
	layout, err := template.ParseFS(templateFiles, "templates/layout.html")
	if err != nil {
		return err
	}
	entries, err := templateFiles.ReadDir("templates")
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFiles, "templates/"+e.Name())
		if err != nil {
			return fmt.Errorf("web: %s: %w", e.Name(), err)
		}
		p.pages[name] = t
	}
	return nil
}

// Route is one page route: Limited routes spend something (a token, a
// hash, a row) and go behind the caller's per-address bucket.
type Route struct {
	Pattern string
	Handler http.Handler
	Limited bool
}

// Routes lists every page route, for the server to register.
func (p *Pages) Routes() []Route {
	rs := []Route{
		{"GET /assets/{file}", http.HandlerFunc(p.handleAsset), false},
	}
	rs = append(rs, p.linkRoutes()...)
	if p.d.UIOff {
		return rs
	}
	post := func(pattern string, h http.HandlerFunc) Route {
		return Route{pattern, p.form(h), true}
	}
	return append(rs,
		Route{"GET /v1/authorize", http.HandlerFunc(p.handleAuthorize), true},
		Route{"GET /login", http.HandlerFunc(p.handleLoginPage), false},
		Route{"GET /login/provider/{id}", http.HandlerFunc(p.handleProviderStart), true},
		Route{"GET /login/link", http.HandlerFunc(p.handleLinkOffer), false},
		post("POST /login/link", p.acceptLinkOffer),
		Route{"GET /v1/link", http.HandlerFunc(p.handleLinkStart), true},
		// Called by the provider (Apple with a cross-site POST): the flow
		// cookie, state, nonce and PKCE guard it, not the form checks.
		Route{"GET /v1/callback/{id}", http.HandlerFunc(p.handleCallback), true},
		Route{"POST /v1/callback/{id}", http.HandlerFunc(p.handleCallback), true},
		post("POST /login", p.handleLogin),
		post("POST /login/code", p.handleLoginCode),
		Route{"GET /login/mfa", http.HandlerFunc(p.handleMFAPage), false},
		post("POST /login/mfa", p.handleMFA),
		post("POST /login/mfa/options", p.handleMFAOptions),
		post("POST /login/passkey", p.handlePasskey),
		post("POST /login/passkey/options", p.handlePasskeyOptions),
		Route{"GET /signup", http.HandlerFunc(p.handleSignupPage), false},
		post("POST /signup", p.handleSignup),
		Route{"GET /logout", http.HandlerFunc(p.handleLogoutPage), false},
		post("POST /logout", p.handleLogout),
		Route{"GET /account", http.HandlerFunc(p.handleAccount), false},
		post("POST /account/password", p.change("password", p.changePassword)),
		post("POST /account/email", p.change("email", p.changeEmail)),
		post("POST /account/sessions/end", p.change("ended", p.endSession)),
		post("POST /account/sessions/end-others", p.change("ended_others", p.endOthers)),
		post("POST /account/identities/link", p.linkProvider),
		post("POST /account/identities/unlink", p.change("unlinked", p.unlinkProvider)),
		post("POST /account/factors/add", p.addFactor),
		post("POST /account/factors/verify", p.verifyFactor),
		post("POST /account/factors/remove", p.removeFactor),
		post("POST /account/factors/recovery", p.newCodes),
	)
}

// form wraps a state-changing handler: a cross-site request is refused
// (http.CrossOriginProtection reads Sec-Fetch-Site and Origin), the body
// is bounded and parsed, and the CSRF token must match the browser's.
func (p *Pages) form(h http.HandlerFunc) http.Handler {
	return p.protected.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, p.d.MaxBodyBytes)
		if err := r.ParseForm(); err != nil {
			v := p.view(w, r, "message", "error.title")
			v.Data = message{Text: v.T("error.generic")}
			p.render(w, r, http.StatusBadRequest, v)
			return
		}
		if !p.csrfOK(r) {
			p.crossOrigin(w, r)
			return
		}
		h(w, r)
	}))
}

// crossOrigin answers a request from another site, or one whose CSRF
// token does not match: 403, and nothing done.
func (p *Pages) crossOrigin(w http.ResponseWriter, r *http.Request) {
	v := p.view(w, r, "message", "error.forbidden_title")
	v.Data = message{Text: v.T("error.forbidden")}
	p.render(w, r, http.StatusForbidden, v)
}

// principal is the browser session the request's cookie names, if live.
func (p *Pages) principal(r *http.Request) (auth.Principal, bool) {
	c, err := r.Cookie(p.cookies.session)
	if err != nil {
		return auth.Principal{}, false
	}
	pr, err := p.d.Auth.BrowserSession(r.Context(), c.Value)
	if err != nil {
		return auth.Principal{}, false
	}
	return pr, true
}

// requester is where the request comes from, marked as coming through
// the pages so that a sign-in starts a browser session.
func requester(ctx context.Context) auth.Requester {
	c := auth.RequesterFrom(ctx)
	c.Browser = true
	return c
}
