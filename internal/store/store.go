package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Sentinel errors. Backends map driver errors onto these so that callers
// match with errors.Is and never look at driver types or error strings.
var (
	// ErrNotFound: no row with that key.
	ErrNotFound = errors.New("store: not found")
	// ErrAlreadyExists: a unique key (user id, email, session id, key id)
	// is already taken.
	ErrAlreadyExists = errors.New("store: already exists")
	// ErrUnavailable: the database could not be reached, is busy past its
	// timeout, is read-only or out of space. Callers answer 503 and retry
	// later; nothing was written.
	ErrUnavailable = errors.New("store: database unavailable")
	// ErrDatabaseTooNew: the database has migrations that this binary does
	// not know; latch refuses to run against it.
	ErrDatabaseTooNew = errors.New("store: database schema is newer than this binary")
	// ErrStale: a write was based on a version of a row that has changed
	// since (a session made under a credential epoch the user has left).
	ErrStale = errors.New("store: stale write refused")
	// ErrMigrationsPending: the database lacks migrations that this binary
	// needs (run `latch migrate up`).
	ErrMigrationsPending = errors.New("store: database schema has pending migrations")
)

// User is an account. Email is stored in its normalised form (trimmed,
// lower-case); the backends enforce its uniqueness.
type User struct {
	ID            string // UUID
	Email         string
	EmailVerified bool
	// PasswordHash is a PHC string (argon2id) or a bcrypt hash; empty for
	// an account that has no password.
	PasswordHash string
	// Metadata is a JSON object owned by the user; never nil once stored
	// (an empty object is "{}").
	Metadata     json.RawMessage
	Disabled     bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
	LastSignInAt time.Time // zero: never signed in
	// PasswordChangedAt is when the password was last set; zero if never.
	PasswordChangedAt time.Time
	// Identities is how many identities the user has. The store keeps it
	// (CreateUserWithIdentity, AttachIdentity, DetachIdentity); what
	// CreateUser and UpdateUser are given here is ignored.
	Identities int
	// CredentialEpoch counts changes to how the user proves who they are:
	// a password set, reset or removed, an address changed. Callers
	// increase it with such a change; a session records the epoch it was
	// made under, and CreateSession refuses a session whose epoch is not
	// the user's, so a sign-in whose credential check a change overtook
	// starts nothing.
	CredentialEpoch int64
}

// Session is one signed-in device: the chain of refresh tokens it has been
// issued and the state needed to rotate them.
type Session struct {
	ID           string // UUID; the access token's sid claim
	UserID       string
	CreatedAt    time.Time
	LastActiveAt time.Time // last sign-in or refresh; drives the idle timeout
	ExpiresAt    time.Time // absolute end of the session
	RevokedAt    time.Time // zero while the session is live
	UserAgent    string
	IP           string
	AMR          []string // authentication methods, e.g. ["pwd"]
	AAL          string   // e.g. "aal1"
	// AuthTime is when the person last proved a credential for this
	// session (password, code...); zero if never, as for a session from
	// an email link. A refresh does not change it.
	AuthTime time.Time
	// CredentialEpoch is the user's CredentialEpoch when the session was
	// made; see User.
	CredentialEpoch int64
	// Kind is SessionApp (a refresh-token chain) or SessionBrowser
	// (latch's own cookie session); "" reads as SessionApp.
	Kind SessionKind
	// ParentID is the browser session an app session was made from
	// (single sign-on through /v1/authorize); "" if none.
	ParentID string
	// IDP is the id of the social provider (a configured provider id,
	// [a-z0-9_]+) the person signed in with; "" for latch's own
	// credentials. Access tokens carry it as the idp claim.
	IDP string

	// RefreshHash is the SHA-256 of the live refresh token.
	RefreshHash []byte
	// ParentHash is the hash of the token RefreshHash replaced; nil until
	// the first rotation.
	ParentHash []byte
	// RotatedAt is when RefreshHash last changed (the creation time before
	// the first rotation).
	RotatedAt time.Time
	// Generation counts rotations: 0 for the first token.
	Generation int64
}

// SessionKind says what holds a session's secret.
type SessionKind string

// The kinds of session.
const (
	// SessionApp: an application holds a rotating refresh token.
	SessionApp SessionKind = "app"
	// SessionBrowser: a browser holds latch's session cookie; app
	// sessions are made from it without a password.
	SessionBrowser SessionKind = "browser"
)

// KeyState is where a signing key is in its life.
type KeyState string

// The states of a signing key, in the order a key passes through them.
const (
	KeyNext     KeyState = "next"     // published, not yet signing
	KeyCurrent  KeyState = "current"  // signing
	KeyPrevious KeyState = "previous" // published until its tokens expire
	KeyRetired  KeyState = "retired"  // no longer published
)

// SigningKey is an asymmetric key that signs access tokens. The private
// part is sealed (AES-GCM under the server's secret key) before it reaches
// the store; the store never sees it in clear.
type SigningKey struct {
	ID           string // kid
	Algorithm    string // ES256, EdDSA, RS256
	State        KeyState
	SealedKey    []byte // sealed private key
	PublicKey    []byte // public key as a JWK (JSON)
	CreatedAt    time.Time
	ActivatedAt  time.Time // became current; zero if never
	DeactivateAt time.Time // became previous; zero if never
	// RetireAt is when a previous key stops being published: the moment the
	// last token it signed expires. Zero unless State is KeyPrevious or
	// KeyRetired.
	RetireAt time.Time
}

// Throttle counts recent failures for one key (an account, an address, or
// both) so that instances sharing a database share one limit.
type Throttle struct {
	Key           string
	Failures      int64
	LastFailureAt time.Time
	BlockedUntil  time.Time // zero: not blocked
}

// TokenPurpose says what a one-time token proves or allows.
type TokenPurpose string

// The purposes of one-time tokens.
const (
	// PurposeVerify confirms the address of an account.
	PurposeVerify TokenPurpose = "verify"
	// PurposeRecover lets the holder set a new password.
	PurposeRecover TokenPurpose = "recover"
	// PurposeEmailChange moves the account to NewEmail.
	PurposeEmailChange TokenPurpose = "email_change"
	// PurposeOTP signs in without a password.
	PurposeOTP TokenPurpose = "otp"
	// PurposeEmailRevert undoes an email change: sent to the old address
	// (Email), it moves the account back from NewEmail.
	PurposeEmailRevert TokenPurpose = "email_revert"
	// PurposeMFA is a sign-in waiting for its second factor (the
	// mfa_token): Attempts counts wrong answers, UsedAt is set when the
	// second step succeeds. It is never mailed.
	PurposeMFA TokenPurpose = "mfa"
)

// Valid reports whether p is one of the purposes above, the only ones
// the backends store.
func (p TokenPurpose) Valid() bool {
	switch p {
	case PurposeVerify, PurposeRecover, PurposeEmailChange, PurposeOTP, PurposeEmailRevert, PurposeMFA:
		return true
	}
	return false
}

// OneTimeToken is a single-use secret sent by email: a link token and,
// for some purposes, a short code. Only their hashes are stored. Deleting
// the user deletes its tokens.
type OneTimeToken struct {
	ID      string // UUID
	UserID  string // the account it acts on; must exist
	Purpose TokenPurpose
	// Email is the account's address when the token was issued; callers
	// refuse the token once the account's address differs.
	Email string
	// NewEmail is the address to move to (PurposeEmailChange); "" else.
	NewEmail string
	// Hash is the SHA-256 of the link token; unique across all tokens.
	Hash []byte
	// CodeHash is a keyed MAC of the short code; nil when there is none.
	CodeHash  []byte
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero: not used yet
	Attempts  int       // wrong codes tried against it
	// SessionID is the session that asked for the token (an email
	// change keeps it alive), or "".
	SessionID string
}

// OutboxMessage is an email waiting to be sent. The HTTP request that
// causes a message only stores it; a sender claims it, delivers it and
// deletes it, so a restart or a mail-server outage loses nothing.
type OutboxMessage struct {
	// ID is assigned by EnqueueMail and increases with every message;
	// what EnqueueMail is given here is ignored.
	ID     int64
	Kind   string // what to send, e.g. "verify", "recover"; required
	To     string // recipient address; required
	UserID string // the account concerned, a UUID or ""; not a reference
	// Data is a JSON object with what the sender needs to build the
	// message, or nil. It must hold no secret that works on its own.
	Data          json.RawMessage
	CreatedAt     time.Time
	ExpiresAt     time.Time // dropped unsent after this
	Attempts      int       // failed deliveries so far
	NextAttemptAt time.Time // not tried before this
	// LockedUntil is when a sender's claim lapses; zero: not claimed.
	LockedUntil time.Time
	LastError   string // why the last attempt failed; no secrets
}

// ListUsersOptions pages through users in creation order.
type ListUsersOptions struct {
	After string // a user id: list users created after it; "" from the start
	Limit int    // at most this many; 0 means 100
}

// AuditEvent is one security event in the audit trail. Rows outlive the
// user and session they name: the ids are kept as plain values, not
// references, so that deleting an account does not erase its history.
type AuditEvent struct {
	// ID is assigned by AppendAudit and increases with every event; it is
	// never reused, even after DeleteAuditBefore removed the newest rows,
	// but it may skip values. What AppendAudit is given here is ignored.
	ID   int64
	Time time.Time
	// Type names the event, e.g. "signup", "login.success",
	// "login.failure", "login.throttled", "refresh.reuse", "logout",
	// "password.change", "session.revoke", "key.rotate",
	// "admin.user.disable". Required.
	Type      string
	UserID    string // a user UUID; "" if none (a failed login for an unknown email)
	SessionID string // a session UUID; "" if none
	IP        string
	UserAgent string
	// Detail is a small JSON object, or nil. PostgreSQL keeps neither its
	// whitespace nor its key order: it comes back as equal JSON, not byte
	// for byte.
	Detail json.RawMessage
}

// ListAuditOptions selects and pages audit events, newest (highest ID)
// first. The filters combine with AND.
type ListAuditOptions struct {
	// Before is an event id: list events with a lower id; 0 from the
	// newest. The id need not exist any more, so a cursor stays valid
	// while retention deletes old rows.
	Before int64
	Limit  int       // at most this many; 0 means 100
	UserID string    // only this user's events; "" for every user
	Type   string    // only events of this type; "" for every type
	Since  time.Time // only events at or after this time; zero for no bound
}

// MigrationStatus describes the schema of a database against the
// migrations embedded in the binary.
type MigrationStatus struct {
	Current    int64 // highest version applied to the database
	Latest     int64 // highest version this binary knows
	Migrations []Migration
}

// Migration is one embedded migration.
type Migration struct {
	Version   int64
	Name      string
	AppliedAt time.Time // zero: pending
}

// PoolStats describes a backend's connection pool, for metrics. Backends
// offer it through an optional PoolStats() method; it is not part of Store.
type PoolStats struct {
	Open, InUse, Idle int
	WaitCount         int64         // connections waited for, since start
	WaitDuration      time.Duration // total time spent waiting, since start
}

// The roles below are what every database backend implements, one value
// per database (store/sqlite, store/postgres). Each consumer asks only for
// the roles it uses. Each method is covered by the conformance suite in
// storetest, a file per role, which every backend must pass.
//
// Times go in and come out in UTC with microsecond precision. A method
// taking a func runs it inside one transaction that holds a write lock on
// the row (BEGIN IMMEDIATE on SQLite, SELECT ... FOR UPDATE on
// PostgreSQL); if the func returns an error nothing is written and that
// error is returned unchanged, so errors.Is works on it.

// Users stores accounts.
type Users interface {
	// CreateUser inserts u; ErrAlreadyExists if the id or the email exists.
	CreateUser(ctx context.Context, u User) error
	GetUser(ctx context.Context, id string) (User, error)
	// GetUserByEmail looks up the normalised email.
	GetUserByEmail(ctx context.Context, email string) (User, error)
	ListUsers(ctx context.Context, opts ListUsersOptions) ([]User, error)
	// UpdateUser applies fn to the locked row and saves the result; the id
	// cannot change. ErrAlreadyExists if the new email is taken.
	UpdateUser(ctx context.Context, id string, fn func(*User) error) (User, error)
	// DeleteUser removes the user, its sessions and their refresh tokens,
	// its identities and its factors.
	// Its audit events stay, still naming the user id.
	DeleteUser(ctx context.Context, id string) error
}

// Sessions stores signed-in sessions and the refresh tokens they issued.
type Sessions interface {
	// CreateSession inserts s and records s.RefreshHash as issued by it.
	// ErrStale, and nothing written, if s.CredentialEpoch is not its
	// user's CredentialEpoch: the user's row is read under a lock that a
	// concurrent UpdateUser waits for, so a session is either created
	// before a credential change commits (and a revocation after the
	// change sees it) or refused.
	CreateSession(ctx context.Context, s Session) error
	// CreateUserWithSession inserts u, then s (whose UserID must be u's)
	// and s.RefreshHash as issued by it, in one transaction: a signup that
	// signs the user in either commits both or writes nothing.
	// ErrAlreadyExists if u's id or email, or s's id or refresh hash, is
	// taken. u and s are checked as CreateUser and CreateSession check
	// them.
	CreateUserWithSession(ctx context.Context, u User, s Session) error
	GetSession(ctx context.Context, id string) (Session, error)
	// GetSessionWithUser returns the session, revoked or not, and its
	// user, read in one query: what authenticating a request needs.
	// ErrNotFound if either is missing. The caller judges liveness.
	GetSessionWithUser(ctx context.Context, sessionID string) (Session, User, error)
	// GetSessionByRefreshHash finds the session that issued the refresh
	// token with this hash at any time: its live token, its parent or any
	// older one. ErrNotFound if no session ever issued it.
	GetSessionByRefreshHash(ctx context.Context, hash []byte) (Session, error)
	// ListSessions returns the user's sessions that are not revoked, newest
	// first. Expired ones are included; the caller judges expiry.
	ListSessions(ctx context.Context, userID string) ([]Session, error)
	// UpdateSession applies fn to the locked row and saves the result. When
	// fn changes RefreshHash, the new hash is recorded as issued by the
	// session in the same transaction.
	UpdateSession(ctx context.Context, id string, fn func(*Session) error) (Session, error)
	// UpdateSessionByRefreshHash finds the session that issued the
	// refresh token with this hash (as GetSessionByRefreshHash does),
	// locks it, and applies fn to it and its user, then saves the session
	// as UpdateSession does, all in one transaction: a refresh reads and
	// rotates in one round of locking instead of three queries.
	// ErrNotFound if no session ever issued the hash. The user is read,
	// not saved.
	UpdateSessionByRefreshHash(ctx context.Context, hash []byte, fn func(*Session, User) error) (Session, User, error)
	// RevokeSessions marks every live session of the user revoked at the
	// given time, except the one with id except (if not ""). It returns how
	// many it revoked.
	RevokeSessions(ctx context.Context, userID, except string, at time.Time) (int64, error)
	// DeleteEndedSessions removes sessions (and, by cascade, their
	// refresh-token rows) that were revoked before revokedBefore, or whose
	// absolute expiry is before expiredBefore, or whose LastActiveAt is
	// before idleBefore, and returns how many. Before means strictly
	// before; a zero cutoff matches nothing. A deleted session's refresh
	// tokens become unknown: GetSessionByRefreshHash answers ErrNotFound
	// for them, so keep revoked sessions as long as re-use of their tokens
	// should still be recognised. The rows go in batches, each committed on
	// its own (see sqlstore), so on an error some may already be gone:
	// the count says how many.
	DeleteEndedSessions(ctx context.Context, revokedBefore, expiredBefore, idleBefore time.Time) (int64, error)
	// CountActiveSessions counts the sessions that are not revoked, whose
	// ExpiresAt is after now and whose LastActiveAt is after idleAfter.
	// It reads every such row: meant for a gauge sampled now and then, not
	// for each request.
	CountActiveSessions(ctx context.Context, now, idleAfter time.Time) (int64, error)
}

// Keys stores the signing keys.
type Keys interface {
	// ListSigningKeys returns every key, oldest first.
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	// UpdateSigningKeys runs fn with every key, under a lock that excludes
	// any other UpdateSigningKeys on the same database (in this process or
	// another), and inserts or replaces (by ID) the keys fn returns.
	UpdateSigningKeys(ctx context.Context, fn func(keys []SigningKey) ([]SigningKey, error)) error
}

// Throttles stores the counters of login throttling and per-key quotas.
type Throttles interface {
	// GetThrottles returns the rows that exist for the keys, in no order.
	GetThrottles(ctx context.Context, keys []string) ([]Throttle, error)
	// UpdateThrottle applies fn to the locked row, creating it if missing
	// (fn then sees a zero Throttle with Key set), and saves the result.
	UpdateThrottle(ctx context.Context, key string, fn func(*Throttle) error) (Throttle, error)
	// UpdateThrottles locks the rows of keys, creating missing ones (fn
	// then sees zero Throttles with Key set), passes them to fn in the
	// order of keys and saves what fn leaves in the slice, all in one
	// transaction: a check and an increment over several keys that no
	// concurrent caller can split. A row fn leaves zero (no failures, no
	// times) is deleted. Keys cannot change and must be distinct.
	UpdateThrottles(ctx context.Context, keys []string, fn func(rows []Throttle) error) ([]Throttle, error)
	// DeleteThrottles removes the rows for the keys; missing keys are fine.
	DeleteThrottles(ctx context.Context, keys []string) error
	// DeleteThrottlesBefore removes throttle rows whose LastFailureAt is
	// before t and whose BlockedUntil (if set) is before t too, and
	// returns how many. A zero LastFailureAt counts as before any t; a
	// zero t matches nothing. Batched like DeleteEndedSessions.
	DeleteThrottlesBefore(ctx context.Context, t time.Time) (int64, error)
}

// Audit stores the audit trail.
type Audit interface {
	// AppendAudit records e and returns the id it assigned. e.Time must
	// not be zero and e.Type not empty; e.UserID and e.SessionID must be
	// UUIDs or empty (stored in canonical form); e.Detail valid JSON or
	// nil.
	AppendAudit(ctx context.Context, e AuditEvent) (int64, error)
	// ListAudit returns the events that opts selects, newest (highest id)
	// first; pass the last id of a page as Before to get the next one. An
	// opts.UserID that is not a UUID selects nothing.
	ListAudit(ctx context.Context, opts ListAuditOptions) ([]AuditEvent, error)
	// DeleteAuditBefore removes the events whose Time is strictly before
	// t, for retention, and returns how many; a zero t matches nothing.
	// Batched like DeleteEndedSessions.
	DeleteAuditBefore(ctx context.Context, t time.Time) (int64, error)
}

// OneTimeTokens stores the single-use secrets sent by email.
type OneTimeTokens interface {
	// CreateOneTimeToken inserts t. ErrAlreadyExists if its ID or Hash is
	// taken; ErrNotFound if its user does not exist.
	CreateOneTimeToken(ctx context.Context, t OneTimeToken) error
	// UseOneTimeToken finds the token with this hash, locks it and its
	// user, and runs fn on both; if fn returns nil it saves the token's
	// UsedAt and Attempts and the user (as UpdateUser does: everything but
	// the id; ErrAlreadyExists if the new email is taken) in the same
	// transaction. When fn sets UsedAt on a token that was unused, every
	// other unused token of the same user and purpose, expired ones
	// included, gets the same UsedAt in that transaction: once one link
	// of a purpose is spent, its siblings die with it (UpdateOneTimeToken
	// never does this). ErrNotFound if no token has this hash. fn sees
	// used and expired tokens too: the caller judges.
	UseOneTimeToken(ctx context.Context, hash []byte, fn func(*OneTimeToken, *User) error) (OneTimeToken, User, error)
	// ListOneTimeTokens returns the user's unused tokens of one purpose,
	// newest first, expired ones included.
	ListOneTimeTokens(ctx context.Context, userID string, purpose TokenPurpose) ([]OneTimeToken, error)
	// UpdateOneTimeToken applies fn to the locked token and saves its
	// UsedAt and Attempts. ErrNotFound if there is no token with that id.
	UpdateOneTimeToken(ctx context.Context, id string, fn func(*OneTimeToken) error) (OneTimeToken, error)
	// DeleteOneTimeTokensBefore removes tokens, used or not, whose
	// ExpiresAt is strictly before t, and returns how many; a zero t
	// matches nothing. Batched like DeleteEndedSessions.
	DeleteOneTimeTokensBefore(ctx context.Context, t time.Time) (int64, error)
}

// Outbox stores mail waiting to be sent.
type Outbox interface {
	// EnqueueMail stores m for sending and returns the id it assigned.
	// m.Kind, m.To, m.CreatedAt and m.ExpiresAt are required; a zero
	// NextAttemptAt means at once (CreatedAt); Attempts, LockedUntil and
	// LastError are ignored and start empty.
	EnqueueMail(ctx context.Context, m OutboxMessage) (int64, error)
	// ClaimMail leases to the caller up to limit messages whose
	// NextAttemptAt is at or before now and whose LockedUntil is zero or
	// at or before now, oldest (lowest id) first, setting their
	// LockedUntil to until. No other ClaimMail, in this process or
	// another, returns them until then. limit <= 0 means 10. Expired
	// messages are returned too: the caller deletes them.
	ClaimMail(ctx context.Context, now, until time.Time, limit int) ([]OutboxMessage, error)
	// RetryMail records a failed delivery: Attempts+1, NextAttemptAt =
	// next, LastError = lastErr (NUL bytes and invalid UTF-8, which a mail
	// server's reply may hold, stored as U+FFFD), LockedUntil cleared.
	// ErrNotFound if the message is gone.
	RetryMail(ctx context.Context, id int64, next time.Time, lastErr string) error
	// DeleteMail removes a message once sent, expired or given up;
	// deleting a missing message is not an error.
	DeleteMail(ctx context.Context, id int64) error
	// CountMail returns how many messages wait in the outbox.
	CountMail(ctx context.Context) (int64, error)
}

// Schema migrates the database and reports on it and on the connection.
type Schema interface {
	// Migrate applies every pending migration; ErrDatabaseTooNew if the
	// database is ahead of the binary. Safe to call from several processes
	// at once.
	Migrate(ctx context.Context) error
	MigrationStatus(ctx context.Context) (MigrationStatus, error)
	// Ping checks that the database answers; ErrUnavailable if not.
	Ping(ctx context.Context) error
	Close() error
}

// Identity is a social provider's account linked to a user: the user
// signs in with it. (Provider, Subject) is unique across all users.
type Identity struct {
	ID       string // UUID
	UserID   string // the user it signs in; must exist
	Provider string // the configured provider id, [a-z0-9_]+
	Subject  string // the provider's stable id of the person (sub, or GitHub's numeric id)
	// Email is the address the provider gave at the last sign-in, as
	// given (not normalised), or "".
	Email        string
	CreatedAt    time.Time
	LastSignInAt time.Time // zero: never used to sign in since it was linked
}

// Identities stores the social identities linked to users, and the
// nonces of provider ID tokens already used (the id_token grant).
type Identities interface {
	// CreateUserWithIdentity inserts u and i (whose UserID must be u's)
	// in one transaction: a sign-up through a provider either commits
	// both or writes nothing. ErrAlreadyExists if u's id or email, or i's
	// id or (Provider, Subject), is taken.
	CreateUserWithIdentity(ctx context.Context, u User, i Identity) error
	// AttachIdentity locks the user i.UserID, runs fn on it (fn may be
	// nil), saves the user as UpdateUser does and inserts i, all in one
	// transaction: a link that must first take something from the
	// account (an unverified account's password) does both or nothing.
	// ErrNotFound if the user does not exist; ErrAlreadyExists if i's id
	// or (Provider, Subject) is taken (by this user or another).
	AttachIdentity(ctx context.Context, i Identity, fn func(*User) error) (User, error)
	// GetIdentity returns the identity with this provider and subject;
	// ErrNotFound if none.
	GetIdentity(ctx context.Context, provider, subject string) (Identity, error)
	// ListIdentities returns the user's identities, oldest first.
	ListIdentities(ctx context.Context, userID string) ([]Identity, error)
	// UpdateIdentity applies fn to the locked identity and saves its
	// Email and LastSignInAt (nothing else changes). ErrNotFound if there
	// is no identity with that id.
	UpdateIdentity(ctx context.Context, id string, fn func(*Identity) error) (Identity, error)
	// DetachIdentity locks the user userID, reads its identities, and
	// runs fn with the user and the identities that would remain without
	// the one with this id; if fn returns nil the identity is deleted, in
	// the same transaction: two detaches at once cannot both pass a check
	// that one of them must fail ("leave a way in"). ErrNotFound if the
	// user has no identity with this id.
	DetachIdentity(ctx context.Context, userID, id string, fn func(u User, remaining []Identity) error) error
	// ClaimNonce records that an ID-token nonce (its hash, as the caller
	// computes it) is used until expires. ErrAlreadyExists if it is
	// already recorded with an expiry after now; a recorded one that has
	// expired by now is claimed afresh.
	ClaimNonce(ctx context.Context, hash []byte, now, expires time.Time) error
	// DeleteNoncesBefore removes the nonces whose expiry is strictly
	// before t and returns how many; a zero t matches nothing. Batched
	// like DeleteEndedSessions.
	DeleteNoncesBefore(ctx context.Context, t time.Time) (int64, error)
}

// FactorType is the kind of a second factor.
type FactorType string

// The types of factor.
const (
	// FactorTOTP is an authenticator app (RFC 6238).
	FactorTOTP FactorType = "totp"
	// FactorWebAuthn is a passkey or security key (WebAuthn).
	FactorWebAuthn FactorType = "webauthn"
	// FactorRecovery is a user's set of recovery codes: one factor
	// holding every unused code's hash.
	FactorRecovery FactorType = "recovery"
)

// Factor is a way for a user to prove who they are besides a password
// or a provider: an authenticator app, a passkey, or the set of recovery
// codes. A factor is pending from CreateFactor until VerifyFactor gives
// it a VerifiedAt (the user proved they hold it); only verified factors
// count.
type Factor struct {
	ID     string // UUID
	UserID string // its user; must exist
	Type   FactorType
	// Name is what the user calls it ("Authenticator app", "YubiKey").
	Name string
	// Secret is the factor's private state, opaque to the store: the
	// sealed TOTP secret, the WebAuthn credential (or, while pending,
	// the sealed registration challenge), the recovery codes' hashes.
	Secret []byte
	// CredentialID is a WebAuthn credential's id, unique across all
	// factors; nil for other types and for a pending WebAuthn factor.
	CredentialID []byte
	// Counter is the last accepted time step of a TOTP factor (a code of
	// a step at or below it is refused) or the sign count of a WebAuthn
	// credential; 0 for others.
	Counter    int64
	CreatedAt  time.Time
	VerifiedAt time.Time // zero: pending
	LastUsedAt time.Time // zero: never used to sign in
}

// Factors stores users' second factors.
type Factors interface {
	// CreateFactor inserts f. ErrAlreadyExists if its id or its
	// CredentialID is taken; ErrNotFound if its user does not exist.
	CreateFactor(ctx context.Context, f Factor) error
	// GetFactor returns the factor with this id; ErrNotFound if none.
	GetFactor(ctx context.Context, id string) (Factor, error)
	// GetFactorByCredential returns the factor with this WebAuthn
	// credential id; ErrNotFound if none.
	GetFactorByCredential(ctx context.Context, credentialID []byte) (Factor, error)
	// ListFactors returns the user's factors, pending ones included,
	// oldest first (ties broken by id).
	ListFactors(ctx context.Context, userID string) ([]Factor, error)
	// UpdateFactor applies fn to the locked factor and saves its Name,
	// Secret, Counter and LastUsedAt (nothing else changes): two updates
	// at once run one after the other, each seeing what the other saved,
	// so a TOTP step or a recovery code is accepted once. ErrNotFound if
	// there is no factor with that id.
	UpdateFactor(ctx context.Context, id string, fn func(*Factor) error) (Factor, error)
	// VerifyFactor locks the factor's user, then the factor, and runs fn
	// with both and the user's other factors; if fn returns nil it saves
	// the user (as UpdateUser does) and the factor's Name, Secret,
	// CredentialID, Counter, VerifiedAt and LastUsedAt, in one
	// transaction: a factor is activated together with the user's new
	// credential epoch. ErrNotFound if there is no factor with that id;
	// ErrAlreadyExists if the CredentialID is taken by another factor.
	VerifyFactor(ctx context.Context, id string, fn func(u *User, f *Factor, others []Factor) error) (User, Factor, error)
	// DeleteFactors locks the user userID, reads its factors (pending
	// ones included, oldest first) and runs fn with both; the factors
	// whose ids fn returns are deleted in the same transaction, and how
	// many were deleted is returned. Two deletes at once run one after
	// the other. ErrNotFound if the user does not exist.
	DeleteFactors(ctx context.Context, userID string, fn func(u User, factors []Factor) ([]string, error)) (int64, error)
	// DeletePendingFactorsBefore removes the factors still pending that
	// were created strictly before t and returns how many; a zero t
	// matches nothing. Batched like DeleteEndedSessions.
	DeletePendingFactorsBefore(ctx context.Context, t time.Time) (int64, error)
}

// Store is every role: what a backend implements, and what the
// command line wires.
type Store interface {
	Users
	Sessions
	Keys
	Throttles
	Audit
	OneTimeTokens
	Outbox
	Identities
	Factors
	Schema
}
