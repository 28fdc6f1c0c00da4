package sqlite

import (
	"context"
	"database/sql"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/latchauth/latch/internal/store"
)

func scanToken(row scanner) (store.OneTimeToken, error) { return store.ScanToken(codec, row) }

// CreateOneTimeToken inserts t. store.ErrAlreadyExists if its id or hash
// is taken; store.ErrNotFound if its user does not exist (a user id that
// is not a UUID names no user). t.ID must be a UUID, t.Hash not empty,
// t.Purpose one of the store's purposes, and t.CreatedAt and t.ExpiresAt
// not zero.
func (db *DB) CreateOneTimeToken(ctx context.Context, t store.OneTimeToken) error {
	args, err := codec.TokenArgs(t)
	if err != nil {
		return wrap("create one-time token", err)
	}
	_, err = db.execWrite(ctx, store.InsertTokenSQL, args...)
	if isCode(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) {
		return wrap("create one-time token", store.ErrNotFound)
	}
	if err != nil {
		return wrap("create one-time token", err)
	}
	return nil
}

// UseOneTimeToken runs fn on the token with this hash and its user under
// the write lock, then saves the token's UsedAt and Attempts and the user
// as UpdateUser does (the same code), in the same transaction; see
// store.Store.
func (db *DB) UseOneTimeToken(ctx context.Context, hash []byte, fn func(*store.OneTimeToken, *store.User) error) (store.OneTimeToken, store.User, error) {
	if len(hash) == 0 {
		return store.OneTimeToken{}, store.User{}, wrap("use one-time token", store.ErrNotFound)
	}
	var (
		savedToken store.OneTimeToken
		savedUser  store.User
	)
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		t, err := scanToken(tx.QueryRowContext(ctx, `SELECT `+store.TokenColumns+` FROM one_time_tokens WHERE hash = $1`, hash))
		if err != nil {
			return err
		}
		// The foreign key guarantees the user; ErrNoRows would still map
		// to ErrNotFound.
		u, err := selectUser(ctx, tx, t.UserID)
		if err != nil {
			return err
		}
		tokenID, userID, wasUsed := t.ID, u.ID, !t.UsedAt.IsZero()
		purpose := t.Purpose
		if err := fn(&t, &u); err != nil {
			return store.CallerError{Err: err}
		}
		savedToken, err = saveToken(ctx, tx, tokenID, t)
		if err != nil {
			return err
		}
		if !wasUsed && !savedToken.UsedAt.IsZero() {
			if _, err := tx.ExecContext(ctx, store.SpendTokensSQL,
				micros(savedToken.UsedAt), userID, string(purpose), tokenID); err != nil {
				return err
			}
		}
		savedUser, err = saveUser(ctx, tx, userID, u)
		return err
	})
	if err != nil {
		return store.OneTimeToken{}, store.User{}, finish("use one-time token", err)
	}
	return savedToken, savedUser, nil
}

// saveToken saves the fields of t that a caller's func may change (UsedAt
// and Attempts) to the token with id, in tx, and returns the token as
// stored.
func saveToken(ctx context.Context, tx *sql.Tx, id string, t store.OneTimeToken) (store.OneTimeToken, error) {
	return scanToken(tx.QueryRowContext(ctx, store.UpdateTokenSQL, codec.SaveTokenArgs(id, t)...))
}

// ListOneTimeTokens returns the user's unused tokens of one purpose,
// newest first (ties broken by id, descending), expired ones included.
func (db *DB) ListOneTimeTokens(ctx context.Context, userID string, purpose store.TokenPurpose) ([]store.OneTimeToken, error) {
	userID, ok := store.CanonicalID(userID)
	if !ok {
		return nil, nil
	}
	tokens, err := queryAll(ctx, db.read, scanToken, store.ListTokensSQL, userID, string(purpose))
	return store.Saved(tokens, finish("list one-time tokens", err))
}

// UpdateOneTimeToken applies fn to the token under the write lock and
// saves its UsedAt and Attempts; changes to its other fields are
// dropped.
func (db *DB) UpdateOneTimeToken(ctx context.Context, id string, fn func(*store.OneTimeToken) error) (store.OneTimeToken, error) {
	id, ok := store.CanonicalID(id)
	if !ok {
		return store.OneTimeToken{}, wrap("update one-time token", store.ErrNotFound)
	}
	var saved store.OneTimeToken
	err := db.inTx(ctx, func(tx *sql.Tx) (err error) {
		saved, err = store.Edit(func() (store.OneTimeToken, error) {
			return scanToken(tx.QueryRowContext(ctx, store.GetTokenSQL, id))
		}, fn, func(t store.OneTimeToken) (store.OneTimeToken, error) { return saveToken(ctx, tx, id, t) })
		return err
	})
	return store.Saved(saved, finish("update one-time token", err))
}

// DeleteOneTimeTokensBefore deletes, in batches (see deleteInBatches), the
// tokens, used or not, that expired before t.
func (db *DB) DeleteOneTimeTokensBefore(ctx context.Context, t time.Time) (int64, error) {
	return db.deleteBefore(ctx, "delete one-time tokens before", `DELETE FROM one_time_tokens WHERE rowid IN (
		SELECT rowid FROM one_time_tokens WHERE expires_at < ? LIMIT ?)`, t)
}
