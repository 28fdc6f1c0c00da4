package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/latchauth/latch/internal/audit"
	"github.com/latchauth/latch/internal/password"
	"github.com/latchauth/latch/internal/ratelimit"
	"github.com/latchauth/latch/internal/store"
	"github.com/latchauth/latch/internal/token"
)

// Store is the storage the service uses, by role: accounts, sessions,
// one-time tokens, the outbox, and the throttle-table counters of wrong
// sign-in codes. Both backends implement it.
type Store interface {
	store.Users
	store.Sessions
	store.OneTimeTokens
	store.Outbox
	GetThrottles(ctx context.Context, keys []string) ([]store.Throttle, error)
	UpdateThrottle(ctx context.Context, key string, fn func(*store.Throttle) error) (store.Throttle, error)
}

// Tokens issues and verifies access tokens; *token.Manager implements it.
type Tokens interface {
	Issue(c token.Claims) (string, token.Claims, error)
	Verify(ctx context.Context, raw string) (token.Claims, error)
}

// Hasher hashes and checks passwords; *password.Hasher implements it.
type Hasher interface {
	Hash(ctx context.Context, pw string) (string, error)
	Verify(ctx context.Context, pw, encoded string) (ok, needsRehash bool, err error)
	VerifyDummy(ctx context.Context, pw string) error
}

// MACer derives keyed MACs from the server's secret; *token.Sealer
// implements it.
type MACer interface {
	MAC(purpose string, data []byte) []byte
}

// Throttler limits credential attempts; *ratelimit.Throttler implements
// it. Reserve counts an attempt before the credential is checked, or says
// how long to wait (and counts nothing); Succeed gives a reservation back
// when the credential was right.
type Throttler interface {
	Reserve(ctx context.Context, a ratelimit.Attempt) (time.Duration, error)
	Succeed(ctx context.Context, a ratelimit.Attempt) error
}

// Auditor records security events; *audit.Recorder implements it.
type Auditor interface {
	Record(ctx context.Context, e audit.Event)
	Count(typ string)
}

// Options are the service's rules.
type Options struct {
	SessionMaxAge      time.Duration
	SessionIdleTimeout time.Duration
	RefreshReuseGrace  time.Duration
	// RequireVerification: signup answers "verification sent" and sign-in
	// needs a verified email.
	RequireVerification bool
	// AdminKey enables admin endpoints when not empty.
	AdminKey string
	Policy   password.Policy
	Mail     MailOptions
}

// Service carries out every account and session operation.
type Service struct {
	store     Store
	hasher    Hasher
	tokens    Tokens
	mac       MACer
	throttler Throttler // nil: no throttling
	audit     Auditor
	mailer    Mailer   // nil: messages wait in the outbox
	renderer  Renderer // nil: messages wait in the outbox
	quotas    Quota    // nil: no per-address message limit
	mailWake  chan struct{}
	opts      Options
	adminHash [sha256.Size]byte // of opts.AdminKey, computed once
	now       func() time.Time
	log       *slog.Logger
}

// Deps are the service's collaborators.
type Deps struct {
	Store     Store
	Hasher    Hasher
	Tokens    Tokens
	MAC       MACer
	Throttler Throttler // optional
	Audit     Auditor   // optional: events then only reach the log
	Mailer    Mailer    // optional: without it and Renderer, mail waits in the outbox
	Renderer  Renderer  // optional
	Quota     Quota     // optional: per-address message limits
	Now       func() time.Time
	Log       *slog.Logger
}

// NewService returns a Service.
func NewService(d Deps, o Options) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Audit == nil {
		d.Audit = audit.New(nil, d.Log, d.Now, nil)
	}
	o.Mail.defaults()
	return &Service{store: d.Store, hasher: d.Hasher, tokens: d.Tokens, mac: d.MAC, throttler: d.Throttler, audit: d.Audit,
		mailer: d.Mailer, renderer: d.Renderer, quotas: d.Quota, mailWake: make(chan struct{}, 1),
		opts: o, adminHash: sha256.Sum256([]byte(o.AdminKey)), now: d.Now, log: d.Log}
}

type clientKey struct{}

// WithClient attaches where a request comes from, for the audit trail of
// operations that take no Client argument.
func WithClient(ctx context.Context, c Client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

func clientFrom(ctx context.Context) Client {
	c, _ := ctx.Value(clientKey{}).(Client)
	return c
}

// record writes a security event with the request's client.
func (s *Service) record(ctx context.Context, typ, userID, sessionID string, detail map[string]any) {
	c := clientFrom(ctx)
	s.audit.Record(ctx, audit.Event{Type: typ, UserID: userID, SessionID: sessionID, IP: c.IP, UserAgent: c.UserAgent, Detail: detail})
}

// Client describes where a request comes from, kept on the session.
type Client struct {
	IP        string
	UserAgent string
}

// TokenResponse is what a successful sign-in or refresh returns.
type TokenResponse struct {
	AccessToken  string
	ExpiresIn    int64 // seconds
	RefreshToken string
	User         store.User
	Claims       token.Claims
	// DeviceToken is issued with every complete sign-in (not with a
	// refresh); see device.go.
	DeviceToken string
}

// Principal is an authenticated caller of latch's own endpoints.
type Principal struct {
	Claims  token.Claims
	Session store.Session
	User    store.User
}

// refreshPrefix marks latch refresh tokens so that secret scanners can
// recognise a leaked one.
const refreshPrefix = "lrt_"

// refreshLen is the length of a refresh token: the prefix and 32 bytes
// (256 bits) in unpadded base64url.
var refreshLen = len(refreshPrefix) + base64.RawURLEncoding.EncodedLen(32)

func newRefreshToken() string {
	var b [32]byte
	rand.Read(b[:]) // never fails: crypto/rand.Read panics rather than return short
	return refreshPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// successor derives the refresh token that replaces parent. Deriving it
// with a MAC under the server secret, instead of drawing it at random,
// lets a second request that presents the same parent inside the grace
// window receive the very same successor without latch ever storing a
// refresh token in clear: only hashes are stored, and only a holder of the
// parent and the server secret can compute the child.
func (s *Service) successor(parent string) string {
	return refreshPrefix + base64.RawURLEncoding.EncodeToString(s.mac.MAC("refresh-token successor", []byte(parent)))
}

func hashToken(t string) []byte {
	h := sha256.Sum256([]byte(t))
	return h[:]
}

// wellFormedRefresh rejects anything that cannot be a refresh token before
// touching the database.
func wellFormedRefresh(t string) bool {
	if len(t) != refreshLen || !strings.HasPrefix(t, refreshPrefix) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(t[len(refreshPrefix):])
	return err == nil
}

// newSession is a session of u, made under u's credential epoch (so that
// the store refuses it if a credential change has overtaken the check
// that led here). authTime is when the person proved a credential for
// it: now for a password or a code, zero for an email link.
func (s *Service) newSession(u store.User, c Client, amr []string, authTime time.Time) (store.Session, string) {
	now := s.now().UTC()
	rt := newRefreshToken()
	return store.Session{
		ID:              uuid.Must(uuid.NewV7()).String(),
		UserID:          u.ID,
		CreatedAt:       now,
		LastActiveAt:    now,
		ExpiresAt:       now.Add(s.opts.SessionMaxAge),
		UserAgent:       truncate(strings.ReplaceAll(strings.ToValidUTF8(c.UserAgent, "\uFFFD"), "\x00", ""), 512),
		IP:              c.IP,
		AMR:             amr,
		AAL:             "aal1",
		AuthTime:        authTime,
		CredentialEpoch: u.CredentialEpoch,
		RefreshHash:     hashToken(rt),
		RotatedAt:       now,
	}, rt
}

// recentAuth is how recent a credential proof must be for a change that
// needs one and is not given the current password ("a recent sign-in").
const recentAuth = 5 * time.Minute

// recent reports whether the session proved a credential within
// recentAuth.
func (s *Service) recent(sess store.Session) bool {
	return !sess.AuthTime.IsZero() && s.now().Sub(sess.AuthTime) <= recentAuth
}

// sessionLive reports whether a session can still be used at now.
func (s *Service) sessionLive(sess store.Session, now time.Time) bool {
	return sess.RevokedAt.IsZero() &&
		now.Before(sess.ExpiresAt) &&
		now.Before(sess.LastActiveAt.Add(s.opts.SessionIdleTimeout))
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

// Authenticate verifies an access token and checks that its session is
// live and its user enabled, so that latch's own endpoints refuse the
// token of a revoked session at once.
func (s *Service) Authenticate(ctx context.Context, raw string) (Principal, error) {
	if raw == "" {
		return Principal{}, ErrInvalidToken
	}
	claims, err := s.tokens.Verify(ctx, raw)
	if err != nil {
		if errors.Is(err, token.ErrInvalidToken) {
			return Principal{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
		}
		return Principal{}, err
	}
	// One query for both: a session cannot outlive its user (deleting the
	// user deletes its sessions), so a missing row means the session is
	// gone.
	sess, u, err := s.store.GetSessionWithUser(ctx, claims.SessionID)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, fmt.Errorf("%w: session gone", ErrInvalidToken)
	} else if err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	// u is the session's user; the check makes it the token's too.
	if sess.UserID != claims.Subject || !s.sessionLive(sess, s.now()) {
		return Principal{}, fmt.Errorf("%w: session ended", ErrInvalidToken)
	}
	if u.Disabled {
		return Principal{}, fmt.Errorf("%w: user disabled", ErrInvalidToken)
	}
	return Principal{Claims: claims, Session: sess, User: u}, nil
}

// IsAdminKey compares a bearer credential with the admin key in constant
// time. It is false when no admin key is configured.
func (s *Service) IsAdminKey(bearer string) bool {
	if s.opts.AdminKey == "" || bearer == "" {
		return false
	}
	// Comparing fixed-size hashes keeps the comparison constant-time
	// whatever the lengths.
	a := sha256.Sum256([]byte(bearer))
	return subtle.ConstantTimeCompare(a[:], s.adminHash[:]) == 1
}

// AdminEnabled reports whether admin endpoints are on.
func (s *Service) AdminEnabled() bool { return s.opts.AdminKey != "" }

// checkPolicy runs the password policy: the local checks, then the
// breached-password lookup when one is configured. The same policy guards
// signup, password change and administrator-created users.
func (s *Service) checkPolicy(ctx context.Context, pw, email string) error {
	reasons, err := s.opts.Policy.CheckContext(ctx, pw, email)
	if err != nil {
		return fmt.Errorf("password policy: %w", err)
	}
	if len(reasons) > 0 {
		return &WeakPasswordError{Reasons: reasons}
	}
	return nil
}

// maxMetadataBytes bounds the user-owned metadata object.
const maxMetadataBytes = 16 << 10

// checkMetadata accepts a JSON object (or nothing) and returns its stored
// form.
func checkMetadata(m json.RawMessage) (json.RawMessage, error) {
	if len(m) == 0 || string(m) == "null" {
		return json.RawMessage("{}"), nil
	}
	if len(m) > maxMetadataBytes {
		return nil, invalid("metadata", "is larger than 16 KiB")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(m, &obj); err != nil {
		return nil, invalid("metadata", "must be a JSON object")
	}
	return m, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary so the stored value stays valid UTF-8.
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
