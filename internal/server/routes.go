package server

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/latchauth/latch/internal/web"
)

// routes registers every endpoint of the v1 API. Each path also gets a
// catch-all so that a wrong method answers a JSON 405 with Allow, and "/"
// answers a JSON 404.
//
// /metrics is not here: it is served on its own listener (Metrics).
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	paths := map[string][]string{}
	handle := func(pattern string, h http.Handler) {
		method, path, _ := strings.Cut(pattern, " ")
		paths[path] = append(paths[path], method)
		mux.Handle(pattern, h)
	}

	handle("POST /v1/signup", s.limitAddress(s.handleSignup()))
	handle("POST /v1/token", s.handleToken()) // limits the password grant itself
	handle("GET /v1/user", s.requireUser(s.handleGetUser()))
	handle("PATCH /v1/user", s.requireUser(s.handlePatchUser()))
	handle("POST /v1/user/identities", s.requireUser(s.handleLinkIdentity()))
	handle("DELETE /v1/user/identities/{id}", s.requireUser(s.handleUnlinkIdentity()))
	if s.auth.FactorsEnabled() {
		handle("GET /v1/factors", s.requireUser(s.handleListFactors()))
		handle("POST /v1/factors", s.requireUser(s.handleEnrolFactor()))
		// POST /v1/factors/recovery_codes: one pattern with DELETE's, since
		// a literal segment beside {id} would split the 405 catch-all.
		handle("POST /v1/factors/{id}", s.requireUser(s.handleFactorAction()))
		handle("POST /v1/factors/{id}/verify", s.requireUser(s.handleVerifyFactor()))
		handle("DELETE /v1/factors/{id}", s.requireUser(s.handleDeleteFactor()))
		handle("POST /v1/factors/{id}/challenge", s.limitAddress(s.handleFactorChallenge()))
	}
	if s.auth.PasskeysEnabled() {
		handle("POST /v1/passkeys/challenge", s.limitAddress(s.handlePasskeyChallenge()))
	}
	handle("POST /v1/logout", s.requireUser(s.handleLogout()))
	handle("GET /v1/sessions", s.requireUser(s.handleListSessions()))
	handle("DELETE /v1/sessions/{id}", s.requireUser(s.handleDeleteSession()))
	handle("POST /v1/revoke", s.limitAddress(s.handleRevoke()))
	handle("POST /v1/introspect", s.requireAdmin(s.handleIntrospect()))
	handle("POST /v1/verify", s.limitAddress(s.handleVerify()))
	handle("POST /v1/verify/resend", s.limitAddress(s.handleResend()))
	handle("POST /v1/recover", s.limitAddress(s.handleRecover()))
	handle("POST /v1/recover/confirm", s.limitAddress(s.handleRecoverConfirm()))
	handle("POST /v1/user/email/confirm", s.limitAddress(s.handleEmailConfirm()))
	handle("POST /v1/user/email/revert", s.limitAddress(s.handleEmailRevert()))
	if s.auth.PasswordlessEnabled() {
		handle("POST /v1/otp", s.limitAddress(s.handleOTP()))
	}
	// latch's browser side: the hosted sign-in pages, /v1/authorize, and
	// the pages the links in its messages open.
	for _, rt := range s.pages().Routes() {
		h := rt.Handler
		if rt.Limited {
			h = s.limitAddress(h)
		}
		handle(rt.Pattern, h)
	}
	handle("GET /.well-known/jwks.json", s.handleJWKS())
	handle("GET /.well-known/openid-configuration", s.handleDiscovery())
	handle("GET /.well-known/oauth-authorization-server", s.handleDiscovery())
	handle("GET /healthz", s.handleHealthz())
	handle("GET /readyz", s.handleReadyz())

	for path, methods := range paths {
		if slices.Contains(methods, "GET") {
			methods = append(methods, "HEAD")
		}
		slices.Sort(methods)
		allow := strings.Join(methods, ", ")
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			s.writeError(w, r, newError(http.StatusMethodNotAllowed, codeMethodNotAllowed, "method "+r.Method+" is not allowed here; allowed: "+allow))
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, newError(http.StatusNotFound, codeNotFound, "no such endpoint"))
	})
	return mux
}

// pages builds the browser side from the configuration.
func (s *Server) pages() *web.Pages {
	public, err := url.Parse(s.cfg.HTTP.PublicURL)
	if err != nil {
		public = nil // validated at load; web falls back to loopback HTTP
	}
	p, err := web.New(web.Deps{
		Auth:         s.auth,
		Catalog:      s.catalog,
		Theme:        web.Theme{Product: s.cfg.Pages.ProductName, LogoURL: s.cfg.Pages.LogoURL, BrandColor: s.cfg.Pages.BrandColor},
		PublicURL:    public,
		RedirectURLs: s.cfg.Pages.RedirectURLs,
		SignupOff:    !s.cfg.Pages.Signup,
		UIOff:        !s.cfg.Pages.UI,
		Passwordless: s.auth.PasswordlessEnabled(),
		MAC:          s.auth.KeyedMAC,
		PasswordMin:  8,
		PasswordMax:  256,
		MaxBodyBytes: s.cfg.HTTP.MaxBodyBytes,
		Log:          s.log,
		Answer:       toAPIError,
	})
	if err != nil {
		panic(err) // the embedded templates do not parse: a build defect
	}
	return p
}
