package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/latchauth/latch/internal/store"
)

// sessionRow receives the columns of store.SessionColumns from a Scan,
// the AMR as JSON text.
type sessionRow struct {
	store.SessionRow[sql.NullInt64]
	amr []byte
}

func (r *sessionRow) dest() []any { return r.Dest(&r.amr) }

// session decodes the scanned columns.
func (r *sessionRow) session() (store.Session, error) {
	if err := json.Unmarshal(r.amr, r.AMR()); err != nil {
		return store.Session{}, err
	}
	return r.Session(codec), nil
}

func scanSession(row scanner) (store.Session, error) {
	var r sessionRow
	if err := row.Scan(r.dest()...); err != nil {
		return store.Session{}, err
	}
	return r.session()
}

// amrText encodes AMR as a JSON array; nil and empty are both "[]" and
// come back nil.
func amrText(amr []string) (any, error) {
	if len(amr) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(amr)
	return string(b), err
}

// insertSession inserts the session, checked and encoded by
// codec.NewSession into args, and records its refresh hash as issued by
// it, in tx; store.ErrNotFound if the user does not exist, store.ErrStale
// if the session's credential epoch is not the user's (BEGIN IMMEDIATE
// holds the write lock, so the epoch read is the latest).
func insertSession(ctx context.Context, tx *sql.Tx, st *statements, s store.Session, args []any) error {
	var epoch int64
	err := tx.StmtContext(ctx, st.selectUserEpoch).QueryRowContext(ctx, s.UserID).Scan(&epoch)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	} else if err != nil {
		return err
	}
	if epoch != s.CredentialEpoch {
		return store.ErrStale
	}
	_, err = tx.StmtContext(ctx, st.insertSession).ExecContext(ctx, args...)
	if isCode(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) {
		return store.ErrNotFound
	}
	if err != nil {
		return err
	}
	_, err = tx.StmtContext(ctx, st.insertRefreshToken).ExecContext(ctx, codec.RefreshTokenArgs(s)...)
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
	st, err := db.stmts(ctx)
	if err != nil {
		return wrap("create session", err)
	}
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		return insertSession(ctx, tx, st, ns, args)
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
	st, err := db.stmts(ctx)
	if err != nil {
		return store.Session{}, wrap("get session", err)
	}
	s, err := scanSession(st.getSession.QueryRowContext(ctx, id))
	return store.Saved(s, finish("get session", err))
}

// GetSessionWithUser returns the session with this id, revoked or not,
// and its user, in one query; store.ErrNotFound if either is missing.
func (db *DB) GetSessionWithUser(ctx context.Context, id string) (store.Session, store.User, error) {
	id, ok := store.CanonicalID(id)
	if !ok {
		return store.Session{}, store.User{}, wrap("get session with user", store.ErrNotFound)
	}
	st, err := db.stmts(ctx)
	if err != nil {
		return store.Session{}, store.User{}, wrap("get session with user", err)
	}
	var (
		sr sessionRow
		ur userRow
	)
	err = st.getSessionWithUser.QueryRowContext(ctx, id).Scan(append(sr.dest(), ur.Dest()...)...)
	if err != nil {
		return store.Session{}, store.User{}, wrap("get session with user", err)
	}
	s, err := sr.session()
	if err != nil {
		return store.Session{}, store.User{}, wrap("get session with user", err)
	}
	return s, ur.User(codec), nil
}

// GetSessionByRefreshHash returns the session that issued the refresh
// token with this hash, whether it is the live token or an older one.
func (db *DB) GetSessionByRefreshHash(ctx context.Context, hash []byte) (store.Session, error) {
	if len(hash) == 0 {
		return store.Session{}, wrap("get session by refresh hash", store.ErrNotFound)
	}
	st, err := db.stmts(ctx)
	if err != nil {
		return store.Session{}, wrap("get session by refresh hash", err)
	}
	s, err := scanSession(st.getSessionByRefreshHash.QueryRowContext(ctx, hash))
	return store.Saved(s, finish("get session by refresh hash", err))
}

// ListSessions returns the user's sessions that are not revoked, newest
// first (ties broken by id, descending).
func (db *DB) ListSessions(ctx context.Context, userID string) ([]store.Session, error) {
	userID, ok := store.CanonicalID(userID)
	if !ok {
		return nil, nil
	}
	sessions, err := queryAll(ctx, db.read, scanSession, store.ListSessionsSQL, userID)
	return store.Saved(sessions, finish("list sessions", err))
}

// UpdateSession applies fn to the session under the write lock and saves
// the result; a new RefreshHash is recorded as issued by the session in the
// same transaction (store.ErrAlreadyExists, and nothing written, if any
// session issued it before). The id and the user id cannot change.
func (db *DB) UpdateSession(ctx context.Context, id string, fn func(*store.Session) error) (store.Session, error) {
	id, ok := store.CanonicalID(id)
	if !ok {
		return store.Session{}, wrap("update session", store.ErrNotFound)
	}
	st, err := db.stmts(ctx)
	if err != nil {
		return store.Session{}, wrap("update session", err)
	}
	var saved store.Session
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		old, err := scanSession(tx.StmtContext(ctx, st.selectSession).QueryRowContext(ctx, id))
		if err != nil {
			return err
		}
		saved, err = saveSession(ctx, tx, st, old, fn)
		return err
	})
	return store.Saved(saved, finish("update session", err))
}

// UpdateSessionByRefreshHash finds the session that issued the refresh
// token with this hash and its user, under the write lock, applies fn and
// saves the session as UpdateSession does.
func (db *DB) UpdateSessionByRefreshHash(ctx context.Context, hash []byte, fn func(*store.Session, store.User) error) (store.Session, store.User, error) {
	if len(hash) == 0 {
		return store.Session{}, store.User{}, wrap("update session by refresh hash", store.ErrNotFound)
	}
	st, err := db.stmts(ctx)
	if err != nil {
		return store.Session{}, store.User{}, wrap("update session by refresh hash", err)
	}
	var (
		saved store.Session
		u     store.User
	)
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		var (
			sr sessionRow
			ur userRow
		)
		err := tx.StmtContext(ctx, st.selectSessionByRefreshHash).QueryRowContext(ctx, hash).
			Scan(append(sr.dest(), ur.Dest()...)...)
		if err != nil {
			return err
		}
		old, err := sr.session()
		if err != nil {
			return err
		}
		u = ur.User(codec)
		saved, err = saveSession(ctx, tx, st, old, func(s *store.Session) error { return fn(s, u) })
		return err
	})
	if err != nil {
		return store.Session{}, store.User{}, finish("update session by refresh hash", err)
	}
	return saved, u, nil
}

// saveSession applies fn to a copy of old, read in tx under the write
// lock, and saves the result, recording a new RefreshHash as issued by
// the session.
func saveSession(ctx context.Context, tx *sql.Tx, st *statements, old store.Session, fn func(*store.Session) error) (store.Session, error) {
	s, err := store.EditSession(old, fn)
	if err != nil {
		return store.Session{}, err
	}
	if !bytes.Equal(s.RefreshHash, old.RefreshHash) {
		_, err := tx.StmtContext(ctx, st.insertRefreshToken).ExecContext(ctx, codec.RefreshTokenArgs(s)...)
		if err != nil {
			return store.Session{}, err
		}
	}
	if rotationOnly(old, s) {
		// SQLite rewrites the entry of every index on a column the SET
		// names, changed or not, and each rewritten index page is one more
		// WAL frame written while the writer is held. A rotation changes
		// none of created_at, expires_at and revoked_at, so naming only
		// what it changes spares two index pages per refresh (7.7 WAL
		// frames per rotation down to 5.7).
		return scanSession(tx.StmtContext(ctx, st.rotateSession).QueryRowContext(ctx,
			micros(s.LastActiveAt), s.RefreshHash, store.Blob(s.ParentHash), micros(s.RotatedAt), s.Generation,
			old.ID))
	}
	args, err := codec.SaveSessionArgs(s)
	if err != nil {
		return store.Session{}, err
	}
	return scanSession(tx.StmtContext(ctx, st.updateSession).QueryRowContext(ctx, args...))
}

// rotationOnly reports whether s differs from old, as stored, in no
// column but those rotateSession sets.
func rotationOnly(old, s store.Session) bool {
	return sameMicros(s.CreatedAt, old.CreatedAt) && sameMicros(s.ExpiresAt, old.ExpiresAt) &&
		sameMicros(s.RevokedAt, old.RevokedAt) &&
		s.UserAgent == old.UserAgent && s.IP == old.IP && s.AAL == old.AAL &&
		slices.Equal(s.AMR, old.AMR) && sameMicros(s.AuthTime, old.AuthTime) &&
		s.CredentialEpoch == old.CredentialEpoch && s.IDP == old.IDP
}

// sameMicros reports whether a and b are stored alike (see micros and
// nullMicros).
func sameMicros(a, b time.Time) bool {
	return a.IsZero() == b.IsZero() && a.UnixMicro() == b.UnixMicro()
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
	// failing towards signing out is the safe direction.
	except, _ = store.CanonicalID(except)
	res, err := db.execWrite(ctx, `UPDATE sessions SET revoked_at = ?
		WHERE user_id = ? AND revoked_at IS NULL AND id <> ?`,
		micros(at), userID, except)
	if err != nil {
		return 0, wrap("revoke sessions", err)
	}
	n, err := res.RowsAffected()
	return store.Saved(n, finish("revoke sessions", err))
}

// DeleteEndedSessions deletes, in batches (see deleteInBatches), the
// sessions revoked before revokedBefore, expired before expiredBefore or
// idle since before idleBefore; the schema's cascade deletes their refresh
// tokens in the same statement.
func (db *DB) DeleteEndedSessions(ctx context.Context, revokedBefore, expiredBefore, idleBefore time.Time) (int64, error) {
	// rowid: sessions has a TEXT key, and the rowid is the table's own
	// b-tree key, the cheapest way back from the subquery to the rows.
	// revoked_at < ? is false for NULL, the live sessions.
	return db.deleteInBatches(ctx, "delete ended sessions", `DELETE FROM sessions WHERE rowid IN (
		SELECT rowid FROM sessions
		WHERE revoked_at < ? OR expires_at < ? OR last_active_at < ?
		LIMIT ?)`,
		micros(revokedBefore), micros(expiredBefore), micros(idleBefore))
}

// CountActiveSessions counts the sessions not revoked, expiring after now
// and active after idleAfter.
func (db *DB) CountActiveSessions(ctx context.Context, now, idleAfter time.Time) (int64, error) {
	var n int64
	err := db.read.QueryRowContext(ctx, store.CountActiveSessionsSQL, micros(now), micros(idleAfter)).Scan(&n)
	return store.Saved(n, finish("count active sessions", err))
}
