package main

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

//go:embed templates/*.html static/*
var files embed.FS

// config is what the app needs to run; run fills it from flags and the
// environment, tests fill it directly.
type config struct {
	latchURL    string           // latch's URL, e.g. http://localhost:8080
	redirectURI string           // this app's /callback, listed in latch's LATCH_REDIRECT_URLS
	httpClient  *http.Client     // nil: a client with a 10 s timeout
	now         func() time.Time // nil: time.Now
	log         *slog.Logger     // nil: discard
}

// session is one browser's state in this app. The browser holds only an
// opaque id in the cookie sessionCookie; the tokens stay here.
type session struct {
	csrf string // the token every form of this browser carries

	mu     sync.Mutex // one refresh at a time per browser
	tokens *tokens    // nil while signed out
	notice string     // a message for the next page, shown once
}

// tokens are latch's answer to a sign-in, kept server side only.
type tokens struct {
	access  string
	refresh string
	expiry  time.Time // when the access token stops working
}

// pending is a sign-in that has left for latch and not come back yet.
type pending struct {
	verifier      string // PKCE code verifier; latch saw only its hash
	state         string
	issuer        string // who the browser was sent to (RFC 9207)
	issRequired   bool   // that server promised iss in its answer
	tokenEndpoint string
}

const (
	sessionCookie = "webapp_session"
	loginCookie   = "webapp_login" // names a pending sign-in, lives 10 minutes
	loginTTL      = 10 * time.Minute
	sessionIdle   = 12 * time.Hour
	// refreshMargin: an access token with less life than this left is
	// refreshed before use, so a call does not fail half-way.
	refreshMargin = 30 * time.Second
)

// app is the example web application.
type app struct {
	cfg      config
	latch    *latchClient
	sessions *table[*session]
	pending  *table[pending]
	pages    map[string]*template.Template
	secure   bool // cookies are Secure when the app is served over https
}

// newApp builds the app from cfg; it does not call latch yet.
func newApp(cfg config) *app {
	if cfg.httpClient == nil {
		cfg.httpClient = newHTTPClient()
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	if cfg.log == nil {
		cfg.log = slog.New(slog.DiscardHandler)
	}
	a := &app{
		cfg:      cfg,
		latch:    &latchClient{base: strings.TrimRight(cfg.latchURL, "/"), http: cfg.httpClient},
		sessions: newTable[*session](sessionIdle, cfg.now),
		pending:  newTable[pending](loginTTL, cfg.now),
		pages:    make(map[string]*template.Template),
		secure:   strings.HasPrefix(cfg.redirectURI, "https://"),
	}
	for _, page := range []string{"home.html", "error.html"} {
		a.pages[page] = template.Must(template.ParseFS(files, "templates/layout.html", "templates/"+page))
	}
	return a
}

// Handler routes the app's pages. Every POST must also pass Go's
// cross-origin check (Sec-Fetch-Site / Origin), a second layer under the
// forms' own CSRF token.
func (a *app) Handler() http.Handler {
	static, _ := fs.Sub(files, "static")
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", a.handleHome())
	mux.Handle("POST /login", a.handleLogin())
	mux.Handle("GET /callback", a.handleCallback())
	mux.Handle("POST /refresh", a.handleRefresh())
	mux.Handle("POST /logout", a.handleLogout())
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	return securityHeaders(http.NewCrossOriginProtection().Handler(mux))
}

// securityHeaders: no script at all, styles from this app only, never
// in a frame, and no Referer that could carry ?code= to anyone.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; base-uri 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// render writes a page, or a plain 500 if the template fails.
func (a *app) render(w http.ResponseWriter, status int, page string, data any) {
	var buf bytes.Buffer
	if err := a.pages[page].ExecuteTemplate(&buf, "layout", data); err != nil {
		a.cfg.log.Error("render", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store") // pages show who is signed in
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
