package main

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"
)

// setCookie sets an HttpOnly, SameSite=Lax cookie. Lax still sends it
// when latch redirects the browser back to /callback (a top-level GET),
// but not on cross-site POSTs. maxAge 0 makes a browser-session cookie,
// -1 deletes it.
func (a *app) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode,
	})
}

// currentSession returns this browser's session, or nil.
func (a *app) currentSession(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	s, _ := a.sessions.get(c.Value)
	return s
}

// ensureSession returns this browser's session, starting one (signed
// out, with its own CSRF token) on a first visit.
func (a *app) ensureSession(w http.ResponseWriter, r *http.Request) *session {
	if s := a.currentSession(r); s != nil {
		return s
	}
	s := &session{csrf: randomString(32)}
	a.setCookie(w, sessionCookie, a.sessions.put(s), 0)
	return s
}

// checkedSession returns the session of a form POST whose CSRF token
// matches, or nil: a form posted from another site cannot know it.
func (a *app) checkedSession(r *http.Request) *session {
	s := a.currentSession(r)
	if s == nil || !sameSecret(r.PostFormValue("csrf"), s.csrf) {
		return nil
	}
	return s
}

// form answers a form POST with f when its CSRF token matches
// (checkedSession), and with formExpired when it does not.
func (a *app) form(f func(w http.ResponseWriter, r *http.Request, s *session)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := a.checkedSession(r)
		if s == nil {
			a.formExpired(w)
			return
		}
		f(w, r, s)
	})
}

// errSignedOut: latch no longer honours this session's tokens (signed
// out elsewhere, expired, or revoked); the person must sign in again.
var errSignedOut = errors.New("signed out at latch")

// keep stores a token response in s; s.mu is held.
func (a *app) keep(s *session, t tokenResponse) {
	s.tokens = &tokens{
		access:  t.AccessToken,
		refresh: t.RefreshToken,
		expiry:  a.cfg.now().Add(time.Duration(t.ExpiresIn) * time.Second),
	}
}

// refresh trades the refresh token for new tokens. latch rotates the
// refresh token on every use, so the new one replaces the old. An
// invalid_grant answer means the session is over at latch. s.mu is held.
func (a *app) refresh(ctx context.Context, s *session) error {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {s.tokens.refresh}}
	t, err := a.latch.token(ctx, a.latch.discover(ctx).TokenEndpoint, form)
	var ae *apiError
	if errors.As(err, &ae) && ae.Code == "invalid_grant" {
		s.tokens = nil
		return errSignedOut
	}
	if err != nil {
		return err
	}
	a.keep(s, t)
	return nil
}

// accessToken returns an access token with some life left, refreshing
// first when it is close to expiry. s.mu is held.
func (a *app) accessToken(ctx context.Context, s *session) (string, error) {
	if s.tokens == nil {
		return "", errSignedOut
	}
	if a.cfg.now().Add(refreshMargin).After(s.tokens.expiry) {
		if err := a.refresh(ctx, s); err != nil {
			return "", err
		}
	}
	return s.tokens.access, nil
}

// currentUser asks latch for the signed-in person. A 401 can come before
// the expiry we computed (a clock apart, a key rotated), so it earns one
// refresh and one more try. s.mu is held.
func (a *app) currentUser(ctx context.Context, s *session) (user, error) {
	access, err := a.accessToken(ctx, s)
	if err != nil {
		return user{}, err
	}
	u, err := a.latch.user(ctx, access)
	var ae *apiError
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
		return u, err
	}
	if err := a.refresh(ctx, s); err != nil {
		return user{}, err
	}
	u, err = a.latch.user(ctx, s.tokens.access)
	if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
		s.tokens = nil
		return user{}, errSignedOut
	}
	return u, err
}
