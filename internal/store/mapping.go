package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Mapping both backends do alike between the entities and their rows, kept
// here so that it is written once and cannot drift: what an id looks like
// when stored, what a row must hold before it is written, which defaults a
// list takes. What differs by dialect (SQL, time and array encodings,
// driver errors) stays in the backends.

// ErrInvalidID is returned when a caller inserts a row whose id is not a
// UUID; lookups by such an id answer ErrNotFound instead.
var ErrInvalidID = errors.New("id is not a UUID")

// ErrEmptyRefreshHash is returned when a session would be stored without
// a refresh hash.
var ErrEmptyRefreshHash = errors.New("refresh hash is empty")

// ErrInvalidKind is returned for a session whose Kind is not a known
// SessionKind.
var ErrInvalidKind = errors.New("session kind is not app or browser")

// CanonicalID returns the canonical (lower-case, hyphenated) form of a
// UUID, the form PostgreSQL returns, so that both backends agree on ids.
// Checking in Go also lets a malformed id answer ErrNotFound instead of a
// PostgreSQL syntax error that aborts the transaction.
func CanonicalID(id string) (string, bool) {
	u, err := uuid.Parse(id)
	if err != nil {
		return "", false
	}
	return u.String(), true
}

// ownedIDs returns in canonical form the id of a row and the id of the
// user that owns it: ErrInvalidID if id is not a UUID, ErrNotFound (no
// such user) if userID is not.
func ownedIDs(id, userID string) (string, string, error) {
	id, ok := CanonicalID(id)
	if !ok {
		return "", "", ErrInvalidID
	}
	userID, ok = CanonicalID(userID)
	if !ok {
		return "", "", ErrNotFound
	}
	return id, userID, nil
}

// OptionalID encodes an id that may be absent, for a nullable column: ""
// is nil (NULL), anything else must be a UUID and is returned in canonical
// form.
func OptionalID(id string) (any, error) {
	if id == "" {
		return nil, nil
	}
	c, ok := CanonicalID(id)
	if !ok {
		return nil, ErrInvalidID
	}
	return c, nil
}

// UserMetadata validates a user's metadata as it is to be stored: nil or
// empty is the empty object, as User promises.
func UserMetadata(m json.RawMessage) (json.RawMessage, error) {
	if len(m) == 0 {
		return json.RawMessage(`{}`), nil
	}
	if !json.Valid(m) {
		return nil, errors.New("metadata is not valid JSON")
	}
	return m, nil
}

// PageSize is the number of users a page holds: Limit, or 100.
func (o ListUsersOptions) PageSize() int {
	if o.Limit <= 0 {
		return 100
	}
	return o.Limit
}

// PageSize is the number of events a page holds: Limit, or 100.
func (o ListAuditOptions) PageSize() int {
	if o.Limit <= 0 {
		return 100
	}
	return o.Limit
}

// Canonical checks s for CreateSession and returns it with its ids in
// canonical form: its id must be a UUID (ErrInvalidID if not; a malformed
// user id is ErrNotFound, no such user) and its refresh hash not empty.
func (s Session) Canonical() (Session, error) {
	id, userID, err := ownedIDs(s.ID, s.UserID)
	if err != nil {
		return Session{}, err
	}
	if len(s.RefreshHash) == 0 {
		return Session{}, ErrEmptyRefreshHash
	}
	switch s.Kind {
	case "":
		s.Kind = SessionApp
	case SessionApp, SessionBrowser:
	default:
		return Session{}, ErrInvalidKind
	}
	if s.ParentID != "" {
		parent, ok := CanonicalID(s.ParentID)
		if !ok {
			return Session{}, ErrInvalidID
		}
		s.ParentID = parent
	}
	s.ID, s.UserID = id, userID
	return s, nil
}

// Canonical checks i for CreateUserWithIdentity and AttachIdentity and
// returns it with its ids in canonical form: its id must be a UUID
// (ErrInvalidID if not; a malformed user id is ErrNotFound, no such
// user), its provider an id of [a-z0-9_]+, its subject not empty and its
// creation time not zero.
func (i Identity) Canonical() (Identity, error) {
	id, userID, err := ownedIDs(i.ID, i.UserID)
	if err != nil {
		return Identity{}, err
	}
	switch {
	case !validProvider(i.Provider):
		return Identity{}, errors.New("the provider is not an id of [a-z0-9_]+")
	case i.Subject == "":
		return Identity{}, errors.New("the subject is empty")
	case i.CreatedAt.IsZero():
		return Identity{}, errors.New("the creation time is zero")
	}
	i.ID, i.UserID = id, userID
	return i, nil
}

// Valid reports whether t is one of the factor types, the only ones the
// backends store.
func (t FactorType) Valid() bool {
	switch t {
	case FactorTOTP, FactorWebAuthn, FactorRecovery:
		return true
	}
	return false
}

// errCredentialType is returned for a factor other than a WebAuthn one
// that would be stored with a credential id.
var errCredentialType = errors.New("only a webauthn factor has a credential id")

// Canonical checks f for CreateFactor and returns it with its ids in
// canonical form: its id must be a UUID (ErrInvalidID if not; a malformed
// user id is ErrNotFound, no such user), its type one of the factor
// types, its creation time not zero, and its CredentialID empty unless
// it is a WebAuthn factor.
func (f Factor) Canonical() (Factor, error) {
	id, userID, err := ownedIDs(f.ID, f.UserID)
	if err != nil {
		return Factor{}, err
	}
	switch {
	case !f.Type.Valid():
		return Factor{}, fmt.Errorf("unknown factor type %q", f.Type)
	case f.CreatedAt.IsZero():
		return Factor{}, errors.New("the creation time is zero")
	case len(f.CredentialID) > 0 && f.Type != FactorWebAuthn:
		return Factor{}, errCredentialType
	}
	f.ID, f.UserID = id, userID
	return f, nil
}

// validProvider reports whether p is a provider id: [a-z0-9_]+.
func validProvider(p string) bool {
	if p == "" {
		return false
	}
	for _, r := range p {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' {
			return false
		}
	}
	return true
}

// Detach is the check of DetachIdentity, run inside the backend's
// transaction on u and its identities as locked: ErrNotFound unless one
// of them has id; else fn (if not nil) sees u and the others, in order,
// nil if there are none. An error of fn comes back as a CallerError.
func Detach(u User, identities []Identity, id string, fn func(User, []Identity) error) error {
	var remaining []Identity
	found := false
	for _, i := range identities {
		if i.ID == id {
			found = true
		} else {
			remaining = append(remaining, i)
		}
	}
	if !found {
		return ErrNotFound
	}
	if fn != nil {
		if err := fn(u, remaining); err != nil {
			return CallerError{Err: err}
		}
	}
	return nil
}

// IssuedAt is when the session's live refresh token was issued.
func (s Session) IssuedAt() time.Time {
	if s.RotatedAt.IsZero() {
		return s.CreatedAt
	}
	return s.RotatedAt
}

// EditSession applies fn to a copy of old, the session as locked in a
// backend's transaction, and checks the result for saving: the id and the
// user id must not have changed and the refresh hash must not be empty.
// An error of fn comes back as a CallerError.
func EditSession(old Session, fn func(*Session) error) (Session, error) {
	s := old
	// fn must not be able to reach old's slices through s.
	s.AMR = append([]string(nil), old.AMR...)
	s.RefreshHash = bytes.Clone(old.RefreshHash)
	s.ParentHash = bytes.Clone(old.ParentHash)
	if err := fn(&s); err != nil {
		return Session{}, CallerError{err}
	}
	if s.ID != old.ID || s.UserID != old.UserID || s.Kind != old.Kind || s.ParentID != old.ParentID {
		return Session{}, errors.New("the id, user id, kind and parent cannot change")
	}
	if len(s.RefreshHash) == 0 {
		return Session{}, ErrEmptyRefreshHash
	}
	return s, nil
}

// Checked checks e for AppendAudit (its time not zero, its type not empty,
// its ids UUIDs or empty, its detail JSON or empty) and returns its ids as
// OptionalID encodes them and its detail, nil if empty.
func (e AuditEvent) Checked() (userID, sessionID any, detail json.RawMessage, err error) {
	if e.Time.IsZero() {
		return nil, nil, nil, errors.New("the event time is zero")
	}
	if e.Type == "" {
		return nil, nil, nil, errors.New("the event type is empty")
	}
	if userID, err = OptionalID(e.UserID); err != nil {
		return nil, nil, nil, fmt.Errorf("user id: %w", err)
	}
	if sessionID, err = OptionalID(e.SessionID); err != nil {
		return nil, nil, nil, fmt.Errorf("session id: %w", err)
	}
	if len(e.Detail) > 0 {
		if !json.Valid(e.Detail) {
			return nil, nil, nil, errors.New("detail is not valid JSON")
		}
		detail = e.Detail
	}
	return userID, sessionID, detail, nil
}

// CallerError carries an error returned by a caller's func out of a
// backend's transaction, so that the backend returns it unchanged rather
// than wrapped like a database error (see CallerErr).
type CallerError struct{ Err error }

func (e CallerError) Error() string { return e.Err.Error() }

// CallerErr returns the caller's error that err carries as a CallerError,
// if it does.
func CallerErr(err error) (error, bool) {
	var ce CallerError
	if errors.As(err, &ce) {
		return ce.Err, true
	}
	return nil, false
}

// Finish turns the error of a backend method into what the method
// returns: nil for nil, the caller's own error as it was (see
// CallerError), anything else as the backend's wrap maps it for op.
func Finish(op string, err error, wrap func(op string, err error) error) error {
	if err == nil {
		return nil
	}
	if ce, ok := CallerErr(err); ok {
		return ce
	}
	return wrap(op, err)
}

// WrapError is a backend's error for op: err, a driver's error, named by
// the backend and op and mapped onto the store's sentinels. kind is what
// the backend found err to mean (ErrNotFound for no rows, ErrAlreadyExists
// for a unique violation, ErrUnavailable), or nil. The driver's message
// is kept (for logs) only where it helps an operator: for
// ErrAlreadyExists and ErrNotFound the sentinel says it all (and a
// driver's detail may quote row values). A sentinel the backend's own
// code returns stays as it is.
func WrapError(backend, op string, err, kind error) error {
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrAlreadyExists):
		return &opError{backend, op, []error{err}}
	case kind == ErrUnavailable:
		return &opError{backend, op, []error{kind, err}}
	case kind != nil:
		return &opError{backend, op, []error{kind}}
	}
	return &opError{backend, op, []error{err}}
}

// opError is what WrapError returns: "backend: op: " and the errors it
// wraps, separated by ": ", as fmt.Errorf("backend: %s: %w", op, err)
// would say it, with one allocation fewer on every error (not found
// included) and the message built only when asked for.
type opError struct {
	backend, op string
	errs        []error
}

func (e *opError) Error() string {
	msg := e.backend + ": " + e.op
	for _, err := range e.errs {
		msg += ": " + err.Error()
	}
	return msg
}

func (e *opError) Unwrap() []error { return e.errs }

// Saved is what a backend method returns once its work is done: v, or
// the zero value with err when there is one.
func Saved[T any](v T, err error) (T, error) {
	if err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

// Edit is the read-modify-write of an Update method, run inside the
// backend's transaction: load reads the locked row, fn changes it, and
// save stores the result and returns it as stored. An error of fn comes
// back as a CallerError.
func Edit[T any](load func() (T, error), fn func(*T) error, save func(T) (T, error)) (T, error) {
	v, err := load()
	if err != nil {
		return v, err
	}
	if err := fn(&v); err != nil {
		var zero T
		return zero, CallerError{Err: err}
	}
	return save(v)
}
