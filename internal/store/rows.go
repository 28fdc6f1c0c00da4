package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The SQL backends store the entities in the same tables, with the same
// columns in the same order; they differ in how a time, a JSON value and
// the AMR list travel to and from the database. A backend describes that
// in a Codec and uses the row types and argument builders below with it,
// so that which column holds which field is written once. Decoding goes
// through plain function values and Scan destinations taken once per row:
// no reflection on the hot paths.

// Scanner is one row as both drivers return it (*sql.Row, *sql.Rows,
// pgx.Row).
type Scanner interface {
	Scan(dest ...any) error
}

// Codec is how a backend encodes the values its database stores in its
// own way. T is the type a time column is scanned into.
type Codec[T any] struct {
	// Time encodes a time for a NOT NULL column.
	Time func(time.Time) any
	// NullTime encodes a time for a nullable column: the zero time is NULL.
	NullTime func(time.Time) any
	// FromTime decodes a scanned time column; NULL and the stored zero
	// time both come back as the zero time, in UTC otherwise.
	FromTime func(T) time.Time
	// JSON encodes a JSON value already checked (metadata, mail data, an
	// audit detail) for its column.
	JSON func(json.RawMessage) any
	// AMR encodes a session's authentication methods for its NOT NULL
	// column; nil and empty come back nil.
	AMR func([]string) (any, error)
	// AMRJSON: the amr column holds a JSON array as text, scanned as
	// bytes and decoded; else it scans straight into a []string.
	AMRJSON bool
}

// nilIfEmpty normalises a scanned binary column: empty comes back nil.
func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// Blob encodes a binary column: empty is NULL, so that it comes back nil.
func Blob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// UserColumns are the columns of users that UserRow scans, in order.
const UserColumns = userWriteColumns + `, identity_count`

// userWriteColumns are the columns of users that InsertUserSQL writes:
// all but identity_count, which only the identities' statements change.
const userWriteColumns = `id, email, email_verified, password_hash, metadata, disabled,
	created_at, updated_at, last_sign_in_at, password_changed_at, credential_epoch`

// UserColumnsOf is UserColumns qualified with the alias u, for joins.
const UserColumnsOf = `u.id, u.email, u.email_verified, u.password_hash, u.metadata, u.disabled,
	u.created_at, u.updated_at, u.last_sign_in_at, u.password_changed_at, u.credential_epoch,
	u.identity_count`

// UserRow receives the columns of UserColumns from a Scan.
type UserRow[T any] struct {
	u                                 User
	metadata                          []byte
	created, updated, signIn, pwdChgd T
}

// Dest returns the Scan destinations of UserColumns.
func (r *UserRow[T]) Dest() []any {
	return []any{&r.u.ID, &r.u.Email, &r.u.EmailVerified, &r.u.PasswordHash, &r.metadata, &r.u.Disabled,
		&r.created, &r.updated, &r.signIn, &r.pwdChgd, &r.u.CredentialEpoch, &r.u.Identities}
}

// User decodes the scanned columns.
func (r *UserRow[T]) User(c *Codec[T]) User {
	u := r.u
	u.Metadata = json.RawMessage(r.metadata)
	u.CreatedAt = c.FromTime(r.created)
	u.UpdatedAt = c.FromTime(r.updated)
	u.LastSignInAt = c.FromTime(r.signIn)
	u.PasswordChangedAt = c.FromTime(r.pwdChgd)
	return u
}

// ScanUser scans and decodes one row of UserColumns.
func (c *Codec[T]) ScanUser(row Scanner) (User, error) {
	var r UserRow[T]
	if err := row.Scan(r.Dest()...); err != nil {
		return User{}, err
	}
	return r.User(c), nil
}

// UserArgs checks u for CreateUser and returns the arguments of
// InsertUserSQL: its id must be a UUID (stored in canonical form), its
// metadata JSON (see UserMetadata).
func (c *Codec[T]) UserArgs(u User) ([]any, error) {
	id, ok := CanonicalID(u.ID)
	if !ok {
		return nil, ErrInvalidID
	}
	return c.userArgs(id, u)
}

// SaveUserArgs checks u, the user with id (canonical) as a caller's func
// left it, and returns the arguments of UpdateUserSQL: the id must not
// have changed.
func (c *Codec[T]) SaveUserArgs(id string, u User) ([]any, error) {
	if u.ID != id {
		return nil, errors.New("the id cannot change")
	}
	return c.userArgs(id, u)
}

// userArgs returns u's columns, in the order of UserColumns, with id.
func (c *Codec[T]) userArgs(id string, u User) ([]any, error) {
	metadata, err := UserMetadata(u.Metadata)
	if err != nil {
		return nil, err
	}
	return []any{id, u.Email, u.EmailVerified, u.PasswordHash, c.JSON(metadata), u.Disabled,
		c.Time(u.CreatedAt), c.Time(u.UpdatedAt), c.NullTime(u.LastSignInAt), c.NullTime(u.PasswordChangedAt),
		u.CredentialEpoch}, nil
}

// SessionColumns are the columns of sessions that SessionRow scans, in
// order.
const SessionColumns = `id, user_id, created_at, last_active_at, expires_at, revoked_at,
	user_agent, ip, amr, aal, refresh_hash, parent_hash, rotated_at, generation,
	auth_time, credential_epoch, kind, parent_id, idp`

// SessionColumnsOf is SessionColumns qualified with the alias s, for
// joins.
const SessionColumnsOf = `s.id, s.user_id, s.created_at, s.last_active_at, s.expires_at, s.revoked_at,
	s.user_agent, s.ip, s.amr, s.aal, s.refresh_hash, s.parent_hash, s.rotated_at, s.generation,
	s.auth_time, s.credential_epoch, s.kind, s.parent_id, s.idp`

// SessionRow receives the columns of SessionColumns from a Scan.
type SessionRow[T any] struct {
	s                                                    Session
	created, active, expires, revoked, rotated, authTime T
	amrJSON                                              []byte
}

// Dest returns the Scan destinations of SessionColumns: the amr column
// into the session's AMR, or as JSON text if the codec says so.
func (r *SessionRow[T]) Dest(c *Codec[T]) []any {
	var amr any = &r.s.AMR
	if c.AMRJSON {
		amr = &r.amrJSON
	}
	return []any{&r.s.ID, &r.s.UserID, &r.created, &r.active, &r.expires, &r.revoked,
		&r.s.UserAgent, &r.s.IP, amr, &r.s.AAL, &r.s.RefreshHash, &r.s.ParentHash, &r.rotated, &r.s.Generation,
		&r.authTime, &r.s.CredentialEpoch, &r.s.Kind, &r.s.ParentID, &r.s.IDP}
}

// Session decodes the scanned columns.
func (r *SessionRow[T]) Session(c *Codec[T]) (Session, error) {
	s := r.s
	if c.AMRJSON {
		if err := json.Unmarshal(r.amrJSON, &s.AMR); err != nil {
			return Session{}, fmt.Errorf("amr: %w", err)
		}
	}
	if len(s.AMR) == 0 {
		s.AMR = nil
	}
	s.RefreshHash = nilIfEmpty(s.RefreshHash)
	s.ParentHash = nilIfEmpty(s.ParentHash)
	s.CreatedAt = c.FromTime(r.created)
	s.LastActiveAt = c.FromTime(r.active)
	s.ExpiresAt = c.FromTime(r.expires)
	s.RevokedAt = c.FromTime(r.revoked)
	s.RotatedAt = c.FromTime(r.rotated)
	s.AuthTime = c.FromTime(r.authTime)
	return s, nil
}

// ScanSession scans and decodes one row of SessionColumns.
func (c *Codec[T]) ScanSession(row Scanner) (Session, error) {
	var r SessionRow[T]
	if err := row.Scan(r.Dest(c)...); err != nil {
		return Session{}, err
	}
	return r.Session(c)
}

// ScanSessionWithUser scans and decodes one row of SessionColumnsOf
// followed by UserColumnsOf.
func (c *Codec[T]) ScanSessionWithUser(row Scanner) (Session, User, error) {
	var (
		sr SessionRow[T]
		ur UserRow[T]
	)
	if err := row.Scan(append(sr.Dest(c), ur.Dest()...)...); err != nil {
		return Session{}, User{}, err
	}
	s, err := sr.Session(c)
	if err != nil {
		return Session{}, User{}, err
	}
	return s, ur.User(c), nil
}

// NewSession checks s for CreateSession (see Session.Canonical) and
// returns it in canonical form with the arguments of InsertSessionSQL.
func (c *Codec[T]) NewSession(s Session) (Session, []any, error) {
	s, err := s.Canonical()
	if err != nil {
		return Session{}, nil, err
	}
	amr, err := c.AMR(s.AMR)
	if err != nil {
		return Session{}, nil, err
	}
	return s, []any{s.ID, s.UserID, c.Time(s.CreatedAt), c.Time(s.LastActiveAt), c.Time(s.ExpiresAt), c.NullTime(s.RevokedAt),
		s.UserAgent, s.IP, amr, s.AAL, s.RefreshHash, Blob(s.ParentHash), c.Time(s.RotatedAt), s.Generation,
		c.NullTime(s.AuthTime), s.CredentialEpoch, string(s.Kind), s.ParentID, s.IDP}, nil
}

// SaveSessionArgs returns the arguments of UpdateSessionSQL for s, as
// EditSession checked it.
func (c *Codec[T]) SaveSessionArgs(s Session) ([]any, error) {
	amr, err := c.AMR(s.AMR)
	if err != nil {
		return nil, err
	}
	return []any{s.ID, c.Time(s.CreatedAt), c.Time(s.LastActiveAt), c.Time(s.ExpiresAt), c.NullTime(s.RevokedAt),
		s.UserAgent, s.IP, amr, s.AAL,
		s.RefreshHash, Blob(s.ParentHash), c.Time(s.RotatedAt), s.Generation,
		c.NullTime(s.AuthTime), s.CredentialEpoch, s.IDP}, nil
}

// RefreshTokenArgs returns the arguments of InsertRefreshTokenSQL: s's
// live refresh hash, issued by s.
func (c *Codec[T]) RefreshTokenArgs(s Session) []any {
	return []any{s.RefreshHash, s.ID, c.Time(s.IssuedAt())}
}

// TokenColumns are the columns of one_time_tokens that ScanToken reads,
// in order.
const TokenColumns = `id, user_id, purpose, email, new_email, hash, code_hash,
	created_at, expires_at, used_at, attempts, session_id`

// ScanToken scans and decodes one row of TokenColumns.
func (c *Codec[T]) ScanToken(row Scanner) (OneTimeToken, error) {
	var (
		t                      OneTimeToken
		purpose                string
		created, expires, used T
	)
	err := row.Scan(&t.ID, &t.UserID, &purpose, &t.Email, &t.NewEmail, &t.Hash, &t.CodeHash,
		&created, &expires, &used, &t.Attempts, &t.SessionID)
	if err != nil {
		return OneTimeToken{}, err
	}
	t.Purpose = TokenPurpose(purpose)
	t.Hash = nilIfEmpty(t.Hash)
	t.CodeHash = nilIfEmpty(t.CodeHash)
	t.CreatedAt = c.FromTime(created)
	t.ExpiresAt = c.FromTime(expires)
	t.UsedAt = c.FromTime(used)
	return t, nil
}

// TokenArgs checks t for CreateOneTimeToken and returns the arguments of
// InsertTokenSQL: its id must be a UUID (ErrInvalidID; stored in
// canonical form), its user id too (ErrNotFound: no such user), and t
// pass Check.
func (c *Codec[T]) TokenArgs(t OneTimeToken) ([]any, error) {
	id, userID, err := ownedIDs(t.ID, t.UserID)
	if err != nil {
		return nil, err
	}
	if err := t.Check(); err != nil {
		return nil, err
	}
	return []any{id, userID, string(t.Purpose), t.Email, t.NewEmail, t.Hash, Blob(t.CodeHash),
		c.Time(t.CreatedAt), c.Time(t.ExpiresAt), c.NullTime(t.UsedAt), t.Attempts, t.SessionID}, nil
}

// SaveTokenArgs returns the arguments of UpdateTokenSQL: what a caller's
// func may change of the token with id (UsedAt and Attempts).
func (c *Codec[T]) SaveTokenArgs(id string, t OneTimeToken) []any {
	return []any{id, c.NullTime(t.UsedAt), t.Attempts}
}

// KeyColumns are the columns of signing_keys that ScanKey reads, in
// order.
const KeyColumns = `id, algorithm, state, sealed_key, public_key,
	created_at, activated_at, deactivate_at, retire_at`

// ScanKey scans and decodes one row of KeyColumns.
func (c *Codec[T]) ScanKey(row Scanner) (SigningKey, error) {
	var (
		k                                      SigningKey
		state                                  string
		created, activated, deactivate, retire T
	)
	err := row.Scan(&k.ID, &k.Algorithm, &state, &k.SealedKey, &k.PublicKey,
		&created, &activated, &deactivate, &retire)
	if err != nil {
		return SigningKey{}, err
	}
	k.State = KeyState(state)
	k.SealedKey = nilIfEmpty(k.SealedKey)
	k.PublicKey = nilIfEmpty(k.PublicKey)
	k.CreatedAt = c.FromTime(created)
	k.ActivatedAt = c.FromTime(activated)
	k.DeactivateAt = c.FromTime(deactivate)
	k.RetireAt = c.FromTime(retire)
	return k, nil
}

// KeyArgs returns the arguments of UpsertKeySQL.
func (c *Codec[T]) KeyArgs(k SigningKey) []any {
	return []any{k.ID, k.Algorithm, string(k.State), k.SealedKey, k.PublicKey,
		c.Time(k.CreatedAt), c.NullTime(k.ActivatedAt), c.NullTime(k.DeactivateAt), c.NullTime(k.RetireAt)}
}

// ThrottleColumns are the columns of throttles that ScanThrottle reads,
// in order.
const ThrottleColumns = `key, failures, last_failure_at, blocked_until`

// ScanThrottle scans and decodes one row of ThrottleColumns.
func (c *Codec[T]) ScanThrottle(row Scanner) (Throttle, error) {
	var (
		th            Throttle
		last, blocked T
	)
	if err := row.Scan(&th.Key, &th.Failures, &last, &blocked); err != nil {
		return Throttle{}, err
	}
	th.LastFailureAt = c.FromTime(last)
	th.BlockedUntil = c.FromTime(blocked)
	return th, nil
}

// ThrottleArgs returns th's columns, in the order of ThrottleColumns.
func (c *Codec[T]) ThrottleArgs(th Throttle) []any {
	return []any{th.Key, th.Failures, c.NullTime(th.LastFailureAt), c.NullTime(th.BlockedUntil)}
}

// ScanMail scans and decodes one row of a backend's mail columns: those
// of mail_outbox in the order of EnqueueMailSQL's, after the id, with the
// user id read as text, "" for NULL.
func (c *Codec[T]) ScanMail(row Scanner) (OutboxMessage, error) {
	var (
		m                                    OutboxMessage
		data                                 []byte
		created, expires, nextAttempt, until T
	)
	err := row.Scan(&m.ID, &m.Kind, &m.To, &m.UserID, &data, &created, &expires,
		&m.Attempts, &nextAttempt, &until, &m.LastError)
	if err != nil {
		return OutboxMessage{}, err
	}
	if data != nil {
		m.Data = json.RawMessage(data)
	}
	m.CreatedAt = c.FromTime(created)
	m.ExpiresAt = c.FromTime(expires)
	m.NextAttemptAt = c.FromTime(nextAttempt)
	m.LockedUntil = c.FromTime(until)
	return m, nil
}

// MailArgs checks m for EnqueueMail (see Check; its user id a UUID or
// empty) and returns the arguments of EnqueueMailSQL: a zero
// NextAttemptAt is CreatedAt, empty data NULL.
func (c *Codec[T]) MailArgs(m OutboxMessage) ([]any, error) {
	if err := m.Check(); err != nil {
		return nil, err
	}
	userID, err := OptionalID(m.UserID)
	if err != nil {
		return nil, fmt.Errorf("user id: %w", err)
	}
	var data any
	if len(m.Data) > 0 {
		data = c.JSON(m.Data)
	}
	next := m.NextAttemptAt
	if next.IsZero() {
		next = m.CreatedAt
	}
	return []any{m.Kind, m.To, userID, data, c.Time(m.CreatedAt), c.Time(m.ExpiresAt), c.Time(next)}, nil
}

// ScanAudit scans and decodes one row of a backend's audit columns: those
// of audit_events in the order of AppendAuditSQL's, after the id, with the
// ids read as text, "" for NULL.
func (c *Codec[T]) ScanAudit(row Scanner) (AuditEvent, error) {
	var (
		e        AuditEvent
		occurred T
		detail   []byte
	)
	err := row.Scan(&e.ID, &occurred, &e.Type, &e.UserID, &e.SessionID, &e.IP, &e.UserAgent, &detail)
	if err != nil {
		return AuditEvent{}, err
	}
	e.Time = c.FromTime(occurred)
	if detail != nil {
		e.Detail = json.RawMessage(detail)
	}
	return e, nil
}

// AuditArgs checks e for AppendAudit (see Checked) and returns the
// arguments of AppendAuditSQL.
func (c *Codec[T]) AuditArgs(e AuditEvent) ([]any, error) {
	userID, sessionID, checked, err := e.Checked()
	if err != nil {
		return nil, err
	}
	var detail any
	if checked != nil {
		detail = c.JSON(checked)
	}
	return []any{c.Time(e.Time), e.Type, userID, sessionID, e.IP, e.UserAgent, detail}, nil
}

// ListAuditQuery returns the statement of ListAudit for opts, reading
// columns (the backend's audit columns), and its arguments; ok is false
// when opts selects nothing (a user id that is not a UUID). Only fixed
// conditions are joined into the statement; every value travels as a
// numbered parameter.
func (c *Codec[T]) ListAuditQuery(opts ListAuditOptions, columns string) (query string, args []any, ok bool) {
	var where []string
	cond := func(expr string, arg any) {
		args = append(args, arg)
		where = append(where, fmt.Sprintf(expr, len(args)))
	}
	if opts.Before > 0 {
		cond("id < $%d", opts.Before)
	}
	if opts.UserID != "" {
		userID, ok := CanonicalID(opts.UserID)
		if !ok {
			return "", nil, false
		}
		cond("user_id = $%d", userID)
	}
	if opts.Type != "" {
		cond("type = $%d", opts.Type)
	}
	if !opts.Since.IsZero() {
		cond("occurred_at >= $%d", c.Time(opts.Since))
	}
	query = `SELECT ` + columns + ` FROM audit_events`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	args = append(args, opts.PageSize())
	query += fmt.Sprintf(` ORDER BY id DESC LIMIT $%d`, len(args))
	return query, args, true
}

// IdentityColumns are the columns of identities that ScanIdentity reads,
// in order.
const IdentityColumns = `id, user_id, provider, subject, email, created_at, last_sign_in_at`

// ScanIdentity scans and decodes one row of IdentityColumns.
func (c *Codec[T]) ScanIdentity(row Scanner) (Identity, error) {
	var (
		i               Identity
		created, signIn T
	)
	if err := row.Scan(&i.ID, &i.UserID, &i.Provider, &i.Subject, &i.Email, &created, &signIn); err != nil {
		return Identity{}, err
	}
	i.CreatedAt = c.FromTime(created)
	i.LastSignInAt = c.FromTime(signIn)
	return i, nil
}

// NewIdentity checks i for CreateUserWithIdentity and AttachIdentity (see
// Identity.Canonical) and returns it in canonical form with the arguments
// of InsertIdentitySQL.
func (c *Codec[T]) NewIdentity(i Identity) (Identity, []any, error) {
	i, err := i.Canonical()
	if err != nil {
		return Identity{}, nil, err
	}
	return i, []any{i.ID, i.UserID, i.Provider, i.Subject, i.Email,
		c.Time(i.CreatedAt), c.NullTime(i.LastSignInAt)}, nil
}

// SaveIdentityArgs returns the arguments of UpdateIdentitySQL: what
// UpdateIdentity saves of the identity with id (Email and LastSignInAt).
func (c *Codec[T]) SaveIdentityArgs(id string, i Identity) []any {
	return []any{id, i.Email, c.NullTime(i.LastSignInAt)}
}

// NonceArgs checks a nonce for ClaimNonce (its hash not empty, its expiry
// not zero) and returns the arguments of ClaimNonceSQL.
func (c *Codec[T]) NonceArgs(hash []byte, now, expires time.Time) ([]any, error) {
	if len(hash) == 0 {
		return nil, errors.New("the nonce hash is empty")
	}
	if expires.IsZero() {
		return nil, errors.New("the nonce expiry is zero")
	}
	return []any{hash, c.Time(expires), c.Time(now)}, nil
}

// FactorColumns are the columns of factors that ScanFactor reads, in
// order.
const FactorColumns = `id, user_id, type, name, secret, credential_id, counter,
	created_at, verified_at, last_used_at`

// ScanFactor scans and decodes one row of FactorColumns.
func (c *Codec[T]) ScanFactor(row Scanner) (Factor, error) {
	var (
		f                       Factor
		typ                     string
		created, verified, used T
	)
	err := row.Scan(&f.ID, &f.UserID, &typ, &f.Name, &f.Secret, &f.CredentialID, &f.Counter,
		&created, &verified, &used)
	if err != nil {
		return Factor{}, err
	}
	f.Type = FactorType(typ)
	f.Secret = nilIfEmpty(f.Secret)
	f.CredentialID = nilIfEmpty(f.CredentialID)
	f.CreatedAt = c.FromTime(created)
	f.VerifiedAt = c.FromTime(verified)
	f.LastUsedAt = c.FromTime(used)
	return f, nil
}

// NewFactor checks f for CreateFactor (see Factor.Canonical) and returns
// it in canonical form with the arguments of InsertFactorSQL. An empty
// Secret or CredentialID is stored as NULL and comes back nil.
func (c *Codec[T]) NewFactor(f Factor) (Factor, []any, error) {
	f, err := f.Canonical()
	if err != nil {
		return Factor{}, nil, err
	}
	return f, []any{f.ID, f.UserID, string(f.Type), f.Name, Blob(f.Secret), Blob(f.CredentialID), f.Counter,
		c.Time(f.CreatedAt), c.NullTime(f.VerifiedAt), c.NullTime(f.LastUsedAt)}, nil
}

// SaveFactorArgs returns the arguments of UpdateFactorSQL: what
// UpdateFactor saves of the factor with id (Name, Secret, Counter and
// LastUsedAt).
func (c *Codec[T]) SaveFactorArgs(id string, f Factor) []any {
	return []any{id, f.Name, Blob(f.Secret), f.Counter, c.NullTime(f.LastUsedAt)}
}

// VerifyFactorArgs checks f, the factor old as a caller's func left it,
// for VerifyFactor and returns the arguments of VerifyFactorSQL: what
// VerifyFactor saves of it (Name, Secret, CredentialID, Counter,
// VerifiedAt and LastUsedAt). Its CredentialID must be empty unless old
// is a WebAuthn factor; its other fields (the ids, the type, the
// creation time) are not saved, changed or not.
func (c *Codec[T]) VerifyFactorArgs(old, f Factor) ([]any, error) {
	if len(f.CredentialID) > 0 && old.Type != FactorWebAuthn {
		return nil, errCredentialType
	}
	return []any{old.ID, f.Name, Blob(f.Secret), Blob(f.CredentialID), f.Counter,
		c.NullTime(f.VerifiedAt), c.NullTime(f.LastUsedAt)}, nil
}
