package web

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"net"
	"net/http"
	"time"
)

// cookieNames are the names of latch's cookies. Over HTTPS they carry the
// __Host- prefix, which the browser honours only for a cookie that is
// Secure, has Path=/ and no Domain: no subdomain and no plain-HTTP page
// can plant or overwrite one. Over plain HTTP, which latch allows only on
// a loopback public URL (development), the prefix cannot be used.
type cookieNames struct {
	session, csrf, device, flow, link, mfa string
}

func namesFor(secure bool) cookieNames {
	if secure {
		return cookieNames{"__Host-latch_session", "__Host-latch_csrf", "__Host-latch_device", "__Host-latch_flow", "__Host-latch_link", "__Host-latch_mfa"}
	}
	return cookieNames{"latch_session", "latch_csrf", "latch_device", "latch_flow", "latch_link", "latch_mfa"}
}

// setCookie sets one of latch's cookies: HttpOnly, SameSite=Lax, Path=/,
// Secure over HTTPS; maxAge 0 makes it a browser-session cookie, a
// negative one deletes it.
func (p *Pages) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	c := &http.Cookie{
		Name: name, Value: value, Path: "/",
		HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode,
	}
	switch {
	case maxAge < 0:
		c.MaxAge = -1
	case maxAge > 0:
		c.MaxAge = int(maxAge / time.Second)
	}
	http.SetCookie(w, c)
}

// The CSRF defence is a signed double submit bound to the browser
// session: a random cookie (set on the first page), and in every form a
// MAC of that cookie and of the session cookie under the server secret.
// Another site can make the browser send the cookies but can read
// neither, so it cannot write the form field; and because the session
// cookie is part of the MAC, a token from before a sign-in is worthless
// after it. http.CrossOriginProtection (Sec-Fetch-Site, Origin) is the
// second layer.

// csrfToken returns the form token for this browser, setting its CSRF
// cookie first if it has none.
func (p *Pages) csrfToken(w http.ResponseWriter, r *http.Request) string {
	seed := ""
	if c, err := r.Cookie(p.cookies.csrf); err == nil && len(c.Value) == 43 {
		seed = c.Value
	} else {
		var b [32]byte
		rand.Read(b[:]) // never fails: crypto/rand.Read panics rather than return short
		seed = base64.RawURLEncoding.EncodeToString(b[:])
		p.setCookie(w, p.cookies.csrf, seed, 0)
		// Later reads in this request see the new seed.
		r.AddCookie(&http.Cookie{Name: p.cookies.csrf, Value: seed})
	}
	return p.csrfFor(seed, p.sessionCookie(r))
}

func (p *Pages) csrfFor(seed, session string) string {
	return base64.RawURLEncoding.EncodeToString(p.d.MAC("page form", []byte(seed+"\x00"+session)))
}

// csrfOK checks a submitted form's token against this browser's cookies.
func (p *Pages) csrfOK(r *http.Request) bool {
	c, err := r.Cookie(p.cookies.csrf)
	if err != nil || len(c.Value) != 43 {
		return false
	}
	want := p.csrfFor(c.Value, p.sessionCookie(r))
	return hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(want))
}

func (p *Pages) sessionCookie(r *http.Request) string {
	if c, err := r.Cookie(p.cookies.session); err == nil {
		return c.Value
	}
	return ""
}

// isLoopbackLiteral reports whether host is 127.0.0.1-style or ::1.
func isLoopbackLiteral(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
