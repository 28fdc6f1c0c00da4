// Package web is latch's browser side: server-rendered pages with their
// own Content-Security-Policy per route, forms that work without
// JavaScript, and errors shown as pages. Today it serves the pages that
// the links in latch's messages open (/verify, /recover, /email-change,
// /email-revert); the hosted sign-in pages, the cookie session and CSRF
// protection are to come here.
//
// A page handler gathers data and renders; it never decides policy, which
// is internal/auth's. It knows nothing of the JSON API: internal/server
// mounts its Routes and lends it the API's mapping of errors to statuses.
package web
