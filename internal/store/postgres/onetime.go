package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchauth/latch/internal/store"
)

func scanToken(row pgx.Row) (store.OneTimeToken, error) { return store.ScanToken(codec, row) }

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
	_, err = db.pool.Exec(ctx, store.InsertTokenSQL, args...)
	if pgCode(err) == codeForeignKeyViolation {
		return wrap("create one-time token", store.ErrNotFound)
	}
	if err != nil {
		return wrap("create one-time token", err)
	}
	return nil
}

// UseOneTimeToken runs fn on the token with this hash and its user, both
// locked with FOR UPDATE, then saves the token's UsedAt and Attempts and
// the user as UpdateUser does (the same code), in the same transaction;
// see store.Store.
//
// It locks the user before the token, the order DeleteUser takes them in
// (the user's row, then its tokens by cascade): in the other order, one of
// the two could wait for the other's lock while holding the one the other
// waits for. So it first reads the token's user id without a lock; the
// token cannot move to another user, but it can be deleted in between, in
// which case the locking read finds nothing: store.ErrNotFound, as if it
// had been deleted just before.
func (db *DB) UseOneTimeToken(ctx context.Context, hash []byte, fn func(*store.OneTimeToken, *store.User) error) (store.OneTimeToken, store.User, error) {
	if len(hash) == 0 {
		return store.OneTimeToken{}, store.User{}, wrap("use one-time token", store.ErrNotFound)
	}
	var (
		savedToken store.OneTimeToken
		savedUser  store.User
	)
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var userID string
		if err := tx.QueryRow(ctx, `SELECT user_id FROM one_time_tokens WHERE hash = $1`, hash).Scan(&userID); err != nil {
			return err
		}
		u, err := lockUser(ctx, tx, userID)
		if err != nil {
			return err
		}
		t, err := scanToken(tx.QueryRow(ctx, `SELECT `+store.TokenColumns+` FROM one_time_tokens
			WHERE hash = $1 AND user_id = $2 FOR UPDATE`, hash, userID))
		if err != nil {
			return err
		}
		tokenID, purpose, wasUsed := t.ID, t.Purpose, !t.UsedAt.IsZero()
		if err := fn(&t, &u); err != nil {
			return store.CallerError{Err: err}
		}
		savedToken, err = saveToken(ctx, tx, tokenID, t)
		if err != nil {
			return err
		}
		if !wasUsed && !savedToken.UsedAt.IsZero() {
			// The user's row lock serialises this with every other use of
			// the user's tokens.
			if _, err := tx.Exec(ctx, store.SpendTokensSQL,
				savedToken.UsedAt, userID, string(purpose), tokenID); err != nil {
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
func saveToken(ctx context.Context, tx pgx.Tx, id string, t store.OneTimeToken) (store.OneTimeToken, error) {
	return scanToken(tx.QueryRow(ctx, store.UpdateTokenSQL, codec.SaveTokenArgs(id, t)...))
}

// ListOneTimeTokens returns the user's unused tokens of one purpose,
// newest first (ties broken by id, descending), expired ones included.
func (db *DB) ListOneTimeTokens(ctx context.Context, userID string, purpose store.TokenPurpose) ([]store.OneTimeToken, error) {
	userID, ok := store.CanonicalID(userID)
	if !ok {
		return nil, nil
	}
	tokens, err := queryAll(ctx, db.pool, scanToken, store.ListTokensSQL, userID, string(purpose))
	if err != nil {
		return nil, wrap("list one-time tokens", err)
	}
	if len(tokens) == 0 {
		return nil, nil // as the SQLite backend answers
	}
	return tokens, nil
}

// UpdateOneTimeToken applies fn to the token, locked with FOR UPDATE, and
// saves its UsedAt and Attempts; changes to its other fields are dropped.
func (db *DB) UpdateOneTimeToken(ctx context.Context, id string, fn func(*store.OneTimeToken) error) (store.OneTimeToken, error) {
	id, ok := store.CanonicalID(id)
	if !ok {
		return store.OneTimeToken{}, wrap("update one-time token", store.ErrNotFound)
	}
	var saved store.OneTimeToken
	err := db.inTx(ctx, func(tx pgx.Tx) (err error) {
		saved, err = store.Edit(func() (store.OneTimeToken, error) {
			return scanToken(tx.QueryRow(ctx, store.GetTokenSQL+` FOR UPDATE`, id))
		}, fn, func(t store.OneTimeToken) (store.OneTimeToken, error) { return saveToken(ctx, tx, id, t) })
		return err
	})
	return store.Saved(saved, finish("update one-time token", err))
}

// DeleteOneTimeTokensBefore deletes, in batches (see deleteInBatches), the
// tokens, used or not, that expired before t. A token that UseOneTimeToken
// or UpdateOneTimeToken holds right now is left for the next clean-up.
func (db *DB) DeleteOneTimeTokensBefore(ctx context.Context, t time.Time) (int64, error) {
	return db.deleteBefore(ctx, "delete one-time tokens before", `DELETE FROM one_time_tokens WHERE id IN (
		SELECT id FROM one_time_tokens WHERE expires_at < $1
		LIMIT $2 FOR UPDATE SKIP LOCKED)`, t)
}
