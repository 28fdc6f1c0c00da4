// Package qr draws a QR code as a small SVG image, for the otpauth:// URI
// that enrols an authenticator app (DESIGN.md: the qr_svg of POST
// /v1/factors) and for the hosted pages.
//
// The encoding itself (versions, Reed–Solomon error correction, masks) is
// github.com/skip2/go-qrcode's: it is subtle to get right and that library
// is small, widely used and has no dependencies. This package only turns
// its module matrix into SVG: one <path> of the dark modules on a white
// background, a quiet zone of four modules, a viewBox in modules so that
// the image scales without blur, shape-rendering="crispEdges", and a
// <title> for screen readers. The result is well-formed XML that works
// inline in HTML or as an <img> (data:image/svg+xml;base64,…).
//
// It must not know what it encodes: it takes a string and options and
// returns text, and it reads no clock, store or network.
package qr
