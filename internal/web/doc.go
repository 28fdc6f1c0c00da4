// Package web is latch's browser side: the hosted pages (/login,
// /signup, /recover, /account, /logout, the second step of a sign-in
// /login/mfa, a passkey sign-in, the account's second factors, and those
// the links in latch's
// messages open: /verify, /invite, /email-change, /email-revert), the
// start of the authorization-code flow (GET /v1/authorize), the browser
// session's cookie and the CSRF defence.
//
// Pages are html/template with one layout (templates/) and one embedded
// stylesheet and script (assets/); every sentence comes from the i18n
// catalog in the language Accept-Language asks for. Each page sends its
// own Content-Security-Policy, with no inline script or style, and works
// without JavaScript, but for passkeys and security keys, which only a
// script can ask the browser for. Every state-changing form goes through Pages.form:
// http.CrossOriginProtection, then a CSRF token that is a MAC of a random
// cookie and of the session cookie.
//
// A page handler gathers data and renders; it never decides policy, which
// is internal/auth's: it calls auth with Requester.Browser set, so that a
// sign-in starts a browser session. It knows nothing of the JSON API:
// internal/server mounts its Routes and lends it the API's mapping of
// errors to statuses.
package web
