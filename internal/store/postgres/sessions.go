package postgres

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/latchauth/latch/internal/store"
)

// sessionRow receives the columns of store.SessionColumns from a Scan;
// the amr column, a text[], scans straight into the session's AMR.
type sessionRow struct {
	store.SessionRow[pgtype.Timestamptz]
}

func (r *sessionRow) dest() []any { return r.Dest(r.AMR()) }

func (r *sessionRow) session() store.Session { return r.Session(codec) }

func scanSession(row pgx.Row) (store.Session, error) {
	var r sessionRow
	if err := row.Scan(r.dest()...); err != nil {
		return store.Session{}, err
	}
	return r.session(), nil
}

// amrArray returns AMR for a NOT NULL text[]: nil becomes the empty
// array, and comes back nil.
func amrArray(amr []string) (any, error) {
	if amr == nil {
		return []string{}, nil
	}
	return amr, nil
}

// insertSession inserts the session, checked and encoded by
// codec.NewSession into args, and records its refresh hash as issued by
// it, in tx; store.ErrNotFound if the user does not exist, store.ErrStale
// if the session's credential epoch is not the user's.
//
// FOR SHARE holds the user's row until tx ends: an UpdateUser that raises
// the epoch waits for this session to commit (and its revocation then
// sees it), and one that committed first is what the read finds. The
// foreign key's own lock (FOR KEY SHARE) would not make it wait.
func insertSession(ctx context.Context, tx pgx.Tx, s store.Session, args []any) error {
	var epoch int64
	err := tx.QueryRow(ctx, store.UserEpochSQL+` FOR SHARE`, s.UserID).Scan(&epoch)
	if err != nil {
		return err // pgx.ErrNoRows maps to store.ErrNotFound
	}
	if epoch != s.CredentialEpoch {
		return store.ErrStale
	}
	_, err = tx.Exec(ctx, store.InsertSessionSQL, args...)
	if pgCode(err) == codeForeignKeyViolation {
		return store.ErrNotFound
	}
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, store.InsertRefreshTokenSQL, codec.RefreshTokenArgs(s)...)
	return err
}

// CreateSession inserts s and records s.RefreshHash as issued by it, in one
// transaction. store.ErrAlreadyExists if the id or the refresh hash is
// taken; store.ErrNotFound if the user does not exist.
func (db *DB) CreateSession(ctx context.Context, s store.Session) error {
	ns, args, err := codec.NewSession(s)
	if err != nil {
		return wrap("create session", err)
	}
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		return insertSession(ctx, tx, ns, args)
	})
	return finish("create session", err)
}

// GetSession returns the session with this id, revoked or not;
// store.ErrNotFound if none.
func (db *DB) GetSession(ctx context.Context, id string) (store.Session, error) {
	id, ok := store.CanonicalID(id)
	if !ok {
		return store.Session{}, wrap("get session", store.ErrNotFound)
	}
	s, err := scanSession(db.pool.QueryRow(ctx, store.GetSessionSQL, id))
	return store.Saved(s, finish("get session", err))
}

// GetSessionWithUser returns the session with this id, revoked or not,
// and its user, in one query; store.ErrNotFound if either is missing.
func (db *DB) GetSessionWithUser(ctx context.Context, id string) (store.Session, store.User, error) {
	id, ok := store.CanonicalID(id)
	if !ok {
		return store.Session{}, store.User{}, wrap("get session with user", store.ErrNotFound)
	}
	var (
		sr sessionRow
		ur userRow
	)
	err := db.pool.QueryRow(ctx, store.GetSessionWithUserSQL, id).Scan(append(sr.dest(), ur.Dest()...)...)
	if err != nil {
		return store.Session{}, store.User{}, wrap("get session with user", err)
	}
	return sr.session(), ur.User(codec), nil
}

// GetSessionByRefreshHash returns the session that issued the refresh
// token with this hash, whether it is the live token or an older one.
func (db *DB) GetSessionByRefreshHash(ctx context.Context, hash []byte) (store.Session, error) {
	if len(hash) == 0 {
		return store.Session{}, wrap("get session by refresh hash", store.ErrNotFound)
	}
	s, err := scanSession(db.pool.QueryRow(ctx, store.GetSessionByRefreshHashSQL, hash))
	return store.Saved(s, finish("get session by refresh hash", err))
}

// ListSessions returns the user's sessions that are not revoked, newest
// first (ties broken by id, descending).
func (db *DB) ListSessions(ctx context.Context, userID string) ([]store.Session, error) {
	userID, ok := store.CanonicalID(userID)
	if !ok {
		return nil, nil
	}
	sessions, err := queryAll(ctx, db.pool, scanSession, store.ListSessionsSQL, userID)
	return store.Saved(sessions, finish("list sessions", err))
}

// UpdateSession applies fn to the session, locked with FOR UPDATE, and
// saves the result; a new RefreshHash is recorded as issued by the session
// in the same transaction (store.ErrAlreadyExists, and nothing written, if
// any session issued it before). The id and the user id cannot change.
//
// Concurrent refreshes of one session queue on the row lock, and each
// sees the row as the previous one left it: that is what lets exactly one
// of them rotate a given token.
func (db *DB) UpdateSession(ctx context.Context, id string, fn func(*store.Session) error) (store.Session, error) {
	id, ok := store.CanonicalID(id)
	if !ok {
		return store.Session{}, wrap("update session", store.ErrNotFound)
	}
	var saved store.Session
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		old, err := scanSession(tx.QueryRow(ctx, store.GetSessionSQL+` FOR UPDATE`, id))
		if err != nil {
			return err
		}
		saved, err = saveSession(ctx, tx, old, fn)
		return err
	})
	return store.Saved(saved, finish("update session", err))
}

// UpdateSessionByRefreshHash finds the session that issued the refresh
// token with this hash and its user, locks the session row, applies fn
// and saves the session as UpdateSession does. Only the session is
// locked: the user is read, not written.
func (db *DB) UpdateSessionByRefreshHash(ctx context.Context, hash []byte, fn func(*store.Session, store.User) error) (store.Session, store.User, error) {
	if len(hash) == 0 {
		return store.Session{}, store.User{}, wrap("update session by refresh hash", store.ErrNotFound)
	}
	var (
		saved store.Session
		u     store.User
	)
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var (
			sr sessionRow
			ur userRow
		)
		err := tx.QueryRow(ctx, store.SessionWithUserByRefreshHashSQL+` FOR UPDATE OF s`, hash).
			Scan(append(sr.dest(), ur.Dest()...)...)
		if err != nil {
			return err
		}
		u = ur.User(codec)
		saved, err = saveSession(ctx, tx, sr.session(), func(s *store.Session) error { return fn(s, u) })
		return err
	})
	if err != nil {
		return store.Session{}, store.User{}, finish("update session by refresh hash", err)
	}
	return saved, u, nil
}

// saveSession applies fn to a copy of old, locked in tx, and saves the
// result, recording a new RefreshHash as issued by the session.
func saveSession(ctx context.Context, tx pgx.Tx, old store.Session, fn func(*store.Session) error) (store.Session, error) {
	s, err := store.EditSession(old, fn)
	if err != nil {
		return store.Session{}, err
	}
	if !bytes.Equal(s.RefreshHash, old.RefreshHash) {
		_, err := tx.Exec(ctx, store.InsertRefreshTokenSQL, codec.RefreshTokenArgs(s)...)
		if err != nil {
			return store.Session{}, err
		}
	}
	args, err := codec.SaveSessionArgs(s)
	if err != nil {
		return store.Session{}, err
	}
	return scanSession(tx.QueryRow(ctx, store.UpdateSessionSQL, args...))
}

// RevokeSessions marks the user's live sessions revoked at at, except the
// one with id except (if not ""), and returns how many it marked.
func (db *DB) RevokeSessions(ctx context.Context, userID, except string, at time.Time) (int64, error) {
	if at.IsZero() {
		return 0, wrap("revoke sessions", errors.New("the revocation time is zero"))
	}
	userID, ok := store.CanonicalID(userID)
	if !ok {
		return 0, nil
	}
	// A malformed except names no session, so every live one is revoked:
	// failing towards signing out is the safe direction. NULL (no
	// exception) is distinct from every id.
	var exceptID any
	if id, ok := store.CanonicalID(except); ok {
		exceptID = id
	}
	tag, err := db.pool.Exec(ctx, `UPDATE sessions SET revoked_at = $1
		WHERE user_id = $2 AND revoked_at IS NULL AND id IS DISTINCT FROM $3`,
		at, userID, exceptID)
	if err != nil {
		return 0, wrap("revoke sessions", err)
	}
	return tag.RowsAffected(), nil
}

// DeleteEndedSessions deletes, in batches (see deleteInBatches), the
// sessions revoked before revokedBefore, expired before expiredBefore or
// idle since before idleBefore; the schema's cascade deletes their refresh
// tokens in the same statement.
func (db *DB) DeleteEndedSessions(ctx context.Context, revokedBefore, expiredBefore, idleBefore time.Time) (int64, error) {
	// revoked_at < $1 is false for NULL, the live sessions.
	return db.deleteInBatches(ctx, "delete ended sessions", `DELETE FROM sessions WHERE id IN (
		SELECT id FROM sessions
		WHERE revoked_at < $1 OR expires_at < $2 OR last_active_at < $3
		LIMIT $4 FOR UPDATE SKIP LOCKED)`,
		revokedBefore, expiredBefore, idleBefore)
}

// CountActiveSessions counts the sessions not revoked, expiring after now
// and active after idleAfter.
func (db *DB) CountActiveSessions(ctx context.Context, now, idleAfter time.Time) (int64, error) {
	var n int64
	err := db.pool.QueryRow(ctx, store.CountActiveSessionsSQL, now, idleAfter).Scan(&n)
	return store.Saved(n, finish("count active sessions", err))
}
