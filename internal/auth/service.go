package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/latchauth/latch/internal/audit"
	"github.com/latchauth/latch/internal/mfa/passkey"
	"github.com/latchauth/latch/internal/password"
	"github.com/latchauth/latch/internal/ratelimit"
	"github.com/latchauth/latch/internal/store"
	"github.com/latchauth/latch/internal/token"
)

// Counters are the throttle-table rows the service keeps itself: the
// wrong sign-in codes per address. store.Throttles implements it.
type Counters interface {
	GetThrottles(ctx context.Context, keys []string) ([]store.Throttle, error)
	UpdateThrottle(ctx context.Context, key string, fn func(*store.Throttle) error) (store.Throttle, error)
}

// Outbox is where the service leaves mail for the sender. store.Outbox
// implements it.
type Outbox interface {
	EnqueueMail(ctx context.Context, m store.OutboxMessage) (int64, error)
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

// MACer derives keyed MACs from the server's secret and seals with it
// (AES-GCM, bound to aad); *token.Sealer implements it.
type MACer interface {
	MAC(purpose string, data []byte) []byte
	Seal(plaintext, aad []byte) ([]byte, error)
	Open(sealed, aad []byte) ([]byte, error)
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
	// SignupOff refuses self-service sign-up (ErrSignupDisabled); people
	// join by invitation.
	SignupOff bool
	// AdminKey enables admin endpoints when not empty.
	AdminKey string
	Policy   password.Policy
	Mail     MailOptions
	// Issuer names latch in authenticator apps (the product name).
	Issuer string
}

// Service carries out every account and session operation.
type Service struct {
	users      store.Users
	sessions   store.Sessions
	onetime    store.OneTimeTokens
	identities store.Identities
	providers  []Provider
	factors    store.Factors // nil: no second factors
	passkeys   *passkey.RP   // nil: no WebAuthn
	outbox     Outbox
	counters   Counters
	hasher     Hasher
	tokens     Tokens
	mac        MACer
	throttler  Throttler // nil: no throttling
	audit      Auditor
	renderer   Renderer // what Compose renders with
	wake       func()   // nil: the sender finds messages at its next tick
	quotas     Quota    // nil: no per-address message limit
	opts       Options
	adminHash  [sha256.Size]byte // of opts.AdminKey, computed once
	now        func() time.Time
	log        *slog.Logger
}

// Deps are the service's collaborators.
type Deps struct {
	// The storage roles the service uses; one backend value fills them
	// all (see Storage).
	Users    store.Users
	Sessions store.Sessions
	OneTime  store.OneTimeTokens
	// Identities and Providers: social sign-in (federated.go).
	Identities store.Identities
	Providers  []Provider
	// Factors stores second factors; Passkeys is the WebAuthn relying
	// party (nil: no security keys or passkeys).
	Factors   store.Factors
	Passkeys  *passkey.RP
	Outbox    Outbox
	Counters  Counters
	Hasher    Hasher
	Tokens    Tokens
	MAC       MACer
	Throttler Throttler // optional
	Audit     Auditor   // optional: events then only reach the log
	Renderer  Renderer  // required to Compose messages
	// Wake, optional, tells the outbox sender that a message is waiting
	// (*outbox.Sender's Wake).
	Wake  func()
	Quota Quota // optional: per-address message limits
	Now   func() time.Time
	Log   *slog.Logger
}

// Storage fills the storage roles of d from one backend value that has
// them all, as both backends do.
func (d *Deps) Storage(db store.Store) {
	d.Users, d.Sessions, d.OneTime, d.Outbox, d.Counters, d.Identities, d.Factors = db, db, db, db, db, db, db
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
	if o.Issuer == "" {
		o.Issuer = "latch"
	}
	return &Service{users: d.Users, sessions: d.Sessions, onetime: d.OneTime, identities: d.Identities, providers: d.Providers, factors: d.Factors, passkeys: d.Passkeys, outbox: d.Outbox, counters: d.Counters, hasher: d.Hasher, tokens: d.Tokens, mac: d.MAC, throttler: d.Throttler, audit: d.Audit,
		renderer: d.Renderer, wake: d.Wake, quotas: d.Quota,
		opts: o, adminHash: sha256.Sum256([]byte(o.AdminKey)), now: d.Now, log: d.Log}
}

type requesterKey struct{}

// WithClient attaches where a request comes from, for the audit trail of
// operations that take no Requester argument.
func WithRequester(ctx context.Context, c Requester) context.Context {
	return context.WithValue(ctx, requesterKey{}, c)
}

// RequesterFrom returns the Requester WithRequester attached to ctx.
func RequesterFrom(ctx context.Context) Requester {
	c, _ := ctx.Value(requesterKey{}).(Requester)
	return c
}

// record writes a security event with the request's client.
func (s *Service) record(ctx context.Context, typ, userID, sessionID string, detail map[string]any) {
	c := RequesterFrom(ctx)
	s.audit.Record(ctx, audit.Event{Type: typ, UserID: userID, SessionID: sessionID, IP: c.IP, UserAgent: c.UserAgent, Detail: detail})
}

// Requester describes where a request comes from (its address and user
// agent), kept on the session and in the audit trail. It is not an OAuth
// client.
type Requester struct {
	IP        string
	UserAgent string
	// Browser: the request came through latch's own pages, so a sign-in
	// starts a browser session (a cookie) rather than an app session
	// (tokens).
	Browser bool
	// Lang is the language (a tag of latch's catalog) the request asked
	// for: the messages it causes are written in it.
	Lang string
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
	// Session is the session a sign-in started (set for a browser
	// session, whose secret is in RefreshToken).
	Session store.Session
}

// Principal is an authenticated caller of latch's own endpoints.
type Principal struct {
	Claims  token.Claims
	Session store.Session
	User    store.User
}

func hashToken(t string) []byte {
	h := sha256.Sum256([]byte(t))
	return h[:]
}

// sessionLive reports whether a session can still be used at now.
func (s *Service) sessionLive(sess store.Session, now time.Time) bool {
	return sess.RevokedAt.IsZero() &&
		now.Before(sess.ExpiresAt) &&
		now.Before(sess.LastActiveAt.Add(s.opts.SessionIdleTimeout))
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
	sess, u, err := s.sessions.GetSessionWithUser(ctx, claims.SessionID)
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

// KeyedMAC is a MAC under the server secret for another package's
// tokens (the pages' CSRF tokens); purpose keeps each use apart from
// every other, latch's own included.
func (s *Service) KeyedMAC(purpose string, data []byte) []byte {
	return s.mac.MAC("keyed:"+purpose, data)
}

// AdminEnabled reports whether admin endpoints are on.
func (s *Service) AdminEnabled() bool { return s.opts.AdminKey != "" }

// PasswordlessEnabled reports whether sign-in by an emailed code is on:
// the one answer the HTTP side asks before offering it.
func (s *Service) PasswordlessEnabled() bool { return s.opts.Mail.Passwordless }

// checkPolicy runs the password policy: the local checks, then the
// breached-password lookup when one is configured. The same policy guards
// signup, password change and administrator-created users.
func (s *Service) checkPolicy(ctx context.Context, pw, email string) error {
	reasons, err := s.opts.Policy.CheckContext(ctx, pw, email)
	if err != nil {
		return fmt.Errorf("password policy: %w", err)
	}
	if len(reasons) > 0 {
		return weakPassword(reasons)
	}
	return nil
}

// hashNewPassword hashes a new password of the account with this address
// once it passes the policy; op names the change in the error of a hash
// that failed.
func (s *Service) hashNewPassword(ctx context.Context, op, pw, email string) (string, error) {
	pw = password.Normalize(pw)
	if err := s.checkPolicy(ctx, pw, email); err != nil {
		return "", err
	}
	hash, err := s.hasher.Hash(ctx, pw)
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	return hash, nil
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
