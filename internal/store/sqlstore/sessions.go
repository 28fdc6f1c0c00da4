package sqlstore

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/latchauth/latch/internal/store"
)

// insertSession inserts the session, checked and encoded by
// Codec.NewSession into args, and records its refresh hash as issued by
// it, in tx; store.ErrNotFound if the user does not exist, store.ErrStale
// if the session's credential epoch is not the user's.
//
// On PostgreSQL FOR SHARE holds the user's row until tx ends: an
// UpdateUser that raises the epoch waits for this session to commit (and
// its revocation then sees it), and one that committed first is what the
// read finds. The foreign key's own lock (FOR KEY SHARE) would not make
// it wait. On SQLite the transaction holds the one write lock already.
func (s Store[T]) insertSession(ctx context.Context, tx Querier, ss store.Session, args []any) error {
	var epoch int64
	if err := tx.QueryRow(ctx, s.locking(store.UserEpochSQL, store.UserEpochSQL+` FOR SHARE`), ss.UserID).Scan(&epoch); err != nil {
		return err // no rows maps to store.ErrNotFound
	}
	if epoch != ss.CredentialEpoch {
		return store.ErrStale
	}
	_, err := tx.Exec(ctx, store.InsertSessionSQL, args...)
	if s.d.IsForeignKey(err) {
		return store.ErrNotFound
	}
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, store.InsertRefreshTokenSQL, s.c.RefreshTokenArgs(ss)...)
	return err
}

// CreateSession inserts ss and records ss.RefreshHash as issued by it, in
// one transaction. store.ErrAlreadyExists if the id or the refresh hash is
// taken; store.ErrNotFound if the user does not exist.
func (s Store[T]) CreateSession(ctx context.Context, ss store.Session) error {
	ns, args, err := s.c.NewSession(ss)
	if err != nil {
		return s.d.Wrap("create session", err)
	}
	err = s.d.InTx(ctx, func(tx Querier) error { return s.insertSession(ctx, tx, ns, args) })
	return s.finish("create session", err)
}

// GetSession returns the session with this id, revoked or not;
// store.ErrNotFound if none.
func (s Store[T]) GetSession(ctx context.Context, id string) (store.Session, error) {
	return getByID(ctx, s, "get session", s.c.ScanSession, store.GetSessionSQL, id)
}

// GetSessionWithUser returns the session with this id, revoked or not,
// and its user, in one query; store.ErrNotFound if either is missing.
func (s Store[T]) GetSessionWithUser(ctx context.Context, id string) (store.Session, store.User, error) {
	id, ok := store.CanonicalID(id)
	if !ok {
		return store.Session{}, store.User{}, s.d.Wrap("get session with user", store.ErrNotFound)
	}
	ss, u, err := s.c.ScanSessionWithUser(s.d.Read().QueryRow(ctx, store.GetSessionWithUserSQL, id))
	if err != nil {
		return store.Session{}, store.User{}, s.d.Wrap("get session with user", err)
	}
	return ss, u, nil
}

// GetSessionByRefreshHash returns the session that issued the refresh
// token with this hash, whether it is the live token or an older one.
func (s Store[T]) GetSessionByRefreshHash(ctx context.Context, hash []byte) (store.Session, error) {
	return getOne(ctx, s, "get session by refresh hash", s.c.ScanSession, store.GetSessionByRefreshHashSQL, hash, len(hash) > 0)
}

// ListSessions returns the user's sessions that are not revoked, newest
// first (ties broken by id, descending).
func (s Store[T]) ListSessions(ctx context.Context, userID string) ([]store.Session, error) {
	return listOfUser(ctx, s, "list sessions", s.c.ScanSession, store.ListSessionsSQL, userID)
}

// UpdateSession applies fn to the session, locked, and saves the result;
// a new RefreshHash is recorded as issued by the session in the same
// transaction (store.ErrAlreadyExists, and nothing written, if any
// session issued it before). The id and the user id cannot change.
//
// Concurrent refreshes of one session queue on the lock, and each sees
// the row as the previous one left it: that is what lets exactly one of
// them rotate a given token.
func (s Store[T]) UpdateSession(ctx context.Context, id string, fn func(*store.Session) error) (store.Session, error) {
	return updateByID(ctx, s, "update session", id, func(tx Querier, id string) (store.Session, error) {
		old, err := s.c.ScanSession(tx.QueryRow(ctx, s.locking(store.GetSessionSQL, store.GetSessionSQL+` FOR UPDATE`), id))
		if err != nil {
			return store.Session{}, err
		}
		return s.saveSession(ctx, tx, old, fn)
	})
}

// UpdateSessionByRefreshHash finds the session that issued the refresh
// token with this hash and its user, locks the session, applies fn and
// saves the session as UpdateSession does. Only the session is locked:
// the user is read, not written.
func (s Store[T]) UpdateSessionByRefreshHash(ctx context.Context, hash []byte, fn func(*store.Session, store.User) error) (store.Session, store.User, error) {
	if len(hash) == 0 {
		return store.Session{}, store.User{}, s.d.Wrap("update session by refresh hash", store.ErrNotFound)
	}
	var (
		saved store.Session
		u     store.User
	)
	err := s.d.InTx(ctx, func(tx Querier) error {
		old, user, err := s.c.ScanSessionWithUser(
			tx.QueryRow(ctx, s.locking(store.SessionWithUserByRefreshHashSQL,
				store.SessionWithUserByRefreshHashSQL+` FOR UPDATE OF s`), hash))
		if err != nil {
			return err
		}
		u = user
		saved, err = s.saveSession(ctx, tx, old, func(ss *store.Session) error { return fn(ss, u) })
		return err
	})
	if err != nil {
		return store.Session{}, store.User{}, s.finish("update session by refresh hash", err)
	}
	return saved, u, nil
}

// saveSession applies fn to a copy of old, locked in tx, and saves the
// result, recording a new RefreshHash as issued by the session.
func (s Store[T]) saveSession(ctx context.Context, tx Querier, old store.Session, fn func(*store.Session) error) (store.Session, error) {
	ss, err := store.EditSession(old, fn)
	if err != nil {
		return store.Session{}, err
	}
	if !bytes.Equal(ss.RefreshHash, old.RefreshHash) {
		if _, err := tx.Exec(ctx, store.InsertRefreshTokenSQL, s.c.RefreshTokenArgs(ss)...); err != nil {
			return store.Session{}, err
		}
	}
	if saver, ok := s.d.(SessionSaver); ok {
		if query, args, ok := saver.SaveSession(old, ss); ok {
			return s.c.ScanSession(tx.QueryRow(ctx, query, args...))
		}
	}
	args, err := s.c.SaveSessionArgs(ss)
	if err != nil {
		return store.Session{}, err
	}
	return s.c.ScanSession(tx.QueryRow(ctx, store.UpdateSessionSQL, args...))
}

// RevokeSessions marks the user's live sessions revoked at at, except the
// one with id except (if not ""), and returns how many it marked.
func (s Store[T]) RevokeSessions(ctx context.Context, userID, except string, at time.Time) (int64, error) {
	if at.IsZero() {
		return 0, s.d.Wrap("revoke sessions", errors.New("the revocation time is zero"))
	}
	userID, ok := store.CanonicalID(userID)
	if !ok {
		return 0, nil
	}
	// A malformed except names no session, so every live one is revoked:
	// failing towards signing out is the safe direction.
	var exceptID any
	if id, ok := store.CanonicalID(except); ok {
		exceptID = id
	}
	n, err := s.d.Write().Exec(ctx, store.RevokeSessionsSQL, s.c.Time(at), userID, exceptID)
	return store.Saved(n, s.finish("revoke sessions", err))
}

// CountActiveSessions counts the sessions not revoked, expiring after now
// and active after idleAfter.
func (s Store[T]) CountActiveSessions(ctx context.Context, now, idleAfter time.Time) (int64, error) {
	var n int64
	err := s.d.Read().QueryRow(ctx, store.CountActiveSessionsSQL, s.c.Time(now), s.c.Time(idleAfter)).Scan(&n)
	return store.Saved(n, s.finish("count active sessions", err))
}
