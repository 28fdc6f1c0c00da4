package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/latchauth/latch/internal/store"
	"github.com/latchauth/latch/internal/token"
)

// The sign-in funnel. Every way of signing in (password, emailed code or
// link, and the methods to come) identifies the person its own way and
// then calls openSession, which starts the session under the user's
// credential epoch, with its amr, aal and auth_time, and issues the
// tokens. A new sign-in method is a new file that ends in openSession; it
// never creates a session or issues a token itself.

// signIn is a person identified by one sign-in method, on their way
// into a session.
type signIn struct {
	user store.User
	via  Requester
	amr  []string
	// authTime is when the person proved a credential: now for a
	// password or a code, zero for an email link, the parent's for single
	// sign-on.
	authTime time.Time
	device   string // the device id of a valid device token; "" for none
	// stale is the error to answer when a credential change overtook the
	// identification (the store refuses the session).
	stale error
	// parent is the browser session an app session is made from (single
	// sign-on); nil otherwise. Its epoch and level carry over.
	parent *store.Session
	// idp is the social provider the person signed in with, or "".
	idp string
	// aal is the level the sign-in reached: "aal2" when it used two
	// factors (or one that is both); "" is aal1. Below the account's
	// level, openSession asks for the second step (mfa.go).
	aal string
	// factor is the factor that identified the person (a passkey), which
	// cannot serve as their second; "" for none.
	factor string
	// id is the new session's id; "" for a new one. A method that must
	// make at most one session per credential (an authorization code)
	// derives it from the credential, and the store refuses a second.
	id string
}

// openSession starts a session for someone just identified and issues
// what its holder keeps: for an app, an access token, a refresh token
// and a device token; for latch's own pages (via.Browser), the browser
// session's cookie secret (in RefreshToken) and a device token. It is the
// one place a sign-in ends.
func (s *Service) openSession(ctx context.Context, in signIn) (TokenResponse, error) {
	u := in.user
	if err := s.secondStep(ctx, in); err != nil {
		return TokenResponse{}, err
	}
	sess, secret := s.newSession(u, in.via, in.amr, in.authTime)
	if in.aal != "" {
		sess.AAL = in.aal
	}
	if in.parent != nil {
		sess.ParentID, sess.AAL, sess.CredentialEpoch, sess.IDP = in.parent.ID, in.parent.AAL, in.parent.CredentialEpoch, in.parent.IDP
	} else {
		sess.IDP = in.idp
	}
	if in.id != "" {
		sess.ID = in.id
	}
	err := s.sessions.CreateSession(ctx, sess)
	switch {
	case errors.Is(err, store.ErrStale):
		s.record(ctx, "login.stale", u.ID, "", map[string]any{"method": in.amr[0]})
		return TokenResponse{}, in.stale
	case errors.Is(err, store.ErrAlreadyExists) && in.id != "":
		return TokenResponse{}, err // that credential made its session already
	case err != nil:
		return TokenResponse{}, fmt.Errorf("sign in: create session: %w", err)
	}
	detail := map[string]any{}
	if in.amr[0] != "pwd" {
		detail["method"] = in.amr[0]
	}
	if sess.IDP != "" {
		detail["idp"] = sess.IDP
	}
	if in.parent != nil {
		detail["method"], detail["parent_id"] = "sso", in.parent.ID
	}
	if sess.Kind == store.SessionBrowser {
		detail["kind"] = string(store.SessionBrowser)
	}
	if len(detail) == 0 {
		detail = nil
	}
	s.record(ctx, "login.success", u.ID, sess.ID, detail)
	var tr TokenResponse
	if sess.Kind == store.SessionBrowser {
		tr = TokenResponse{RefreshToken: secret, User: u, Session: sess}
	} else if tr, err = s.issue(u, sess, secret); err != nil {
		return TokenResponse{}, err
	}
	tr.DeviceToken = s.newDeviceToken(u.ID, in.device)
	return tr, nil
}

// newSession is a session of u, made under u's credential epoch (so that
// the store refuses it if a credential change has overtaken the check
// that led here), with the secret its holder keeps: a refresh token for
// an app, a cookie secret for a browser. authTime is when the person
// proved a credential for it: now for a password or a code, zero for an
// email link.
func (s *Service) newSession(u store.User, c Requester, amr []string, authTime time.Time) (store.Session, string) {
	now := s.now().UTC()
	kind, secret := store.SessionApp, newRefreshToken()
	if c.Browser {
		kind, secret = store.SessionBrowser, newBrowserSecret()
	}
	return store.Session{
		ID:              uuid.Must(uuid.NewV7()).String(),
		UserID:          u.ID,
		Kind:            kind,
		CreatedAt:       now,
		LastActiveAt:    now,
		ExpiresAt:       now.Add(s.opts.SessionMaxAge),
		UserAgent:       truncate(strings.ReplaceAll(strings.ToValidUTF8(c.UserAgent, "\uFFFD"), "\x00", ""), 512),
		IP:              c.IP,
		AMR:             amr,
		AAL:             "aal1",
		AuthTime:        authTime,
		CredentialEpoch: u.CredentialEpoch,
		RefreshHash:     hashToken(secret),
		RotatedAt:       now,
	}, secret
}

// recentAuth is how recent a credential proof must be for a change that
// needs one and is not given the current password ("a recent sign-in").
const recentAuth = 5 * time.Minute

// recent reports whether the session proved a credential within
// recentAuth.
func (s *Service) recent(sess store.Session) bool {
	return !sess.AuthTime.IsZero() && s.now().Sub(sess.AuthTime) <= recentAuth
}

// issue signs an access token for the user's session.
func (s *Service) issue(u store.User, sess store.Session, refresh string) (TokenResponse, error) {
	raw, claims, err := s.tokens.Issue(token.Claims{
		Subject:       u.ID,
		SessionID:     sess.ID,
		AMR:           sess.AMR,
		AAL:           sess.AAL,
		AuthTime:      sess.AuthTime,
		Email:         u.Email,
		EmailVerified: u.EmailVerified,
		IDP:           sess.IDP,
	})
	if err != nil {
		return TokenResponse{}, fmt.Errorf("issue access token: %w", err)
	}
	return TokenResponse{
		AccessToken:  raw,
		ExpiresIn:    int64(claims.ExpiresAt.Sub(claims.IssuedAt).Round(time.Second) / time.Second),
		RefreshToken: refresh,
		User:         u,
		Claims:       claims,
	}, nil
}
