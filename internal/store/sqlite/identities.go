package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/latchauth/latch/internal/store"
)

func scanIdentity(row scanner) (store.Identity, error) { return store.ScanIdentity(codec, row) }

// CreateUserWithIdentity inserts u, then i, in one transaction:
// store.ErrAlreadyExists, and nothing written, if the user's id or email,
// or the identity's id or (provider, subject), is taken. i.UserID must
// name u.
func (db *DB) CreateUserWithIdentity(ctx context.Context, u store.User, i store.Identity) error {
	args, err := codec.UserArgs(u)
	if err != nil {
		return wrap("create user with identity", err)
	}
	ni, iargs, err := codec.NewIdentity(i)
	if err != nil {
		return wrap("create user with identity", err)
	}
	if id, _ := store.CanonicalID(u.ID); ni.UserID != id {
		return wrap("create user with identity", errors.New("the identity's user id is not the user's"))
	}
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, store.InsertUserSQL, args...); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, store.InsertIdentitySQL, iargs...)
		return err
	})
	return finish("create user with identity", err)
}

// AttachIdentity reads the user i.UserID under the write lock, applies fn
// (if not nil) and saves the user as UpdateUser does, and inserts i, in
// one transaction; see store.Identities.
func (db *DB) AttachIdentity(ctx context.Context, i store.Identity, fn func(*store.User) error) (store.User, error) {
	ni, args, err := codec.NewIdentity(i)
	if err != nil {
		return store.User{}, wrap("attach identity", err)
	}
	var saved store.User
	err = db.inTx(ctx, func(tx *sql.Tx) (err error) {
		load := func() (store.User, error) { return selectUser(ctx, tx, ni.UserID) }
		if fn == nil {
			saved, err = load()
		} else {
			saved, err = store.Edit(load, fn,
				func(u store.User) (store.User, error) { return saveUser(ctx, tx, ni.UserID, u) })
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, store.InsertIdentitySQL, args...)
		return err
	})
	return store.Saved(saved, finish("attach identity", err))
}

// GetIdentity returns the identity of this provider and subject;
// store.ErrNotFound if none.
func (db *DB) GetIdentity(ctx context.Context, provider, subject string) (store.Identity, error) {
	i, err := scanIdentity(db.read.QueryRowContext(ctx, store.GetIdentitySQL, provider, subject))
	return store.Saved(i, finish("get identity", err))
}

// ListIdentities returns the user's identities, oldest first (ties broken
// by id).
func (db *DB) ListIdentities(ctx context.Context, userID string) ([]store.Identity, error) {
	userID, ok := store.CanonicalID(userID)
	if !ok {
		return nil, nil
	}
	ids, err := queryAll(ctx, db.read, scanIdentity, store.ListIdentitiesSQL, userID)
	return store.Saved(ids, finish("list identities", err))
}

// UpdateIdentity applies fn to the identity under the write lock and
// saves its Email and LastSignInAt; changes to its other fields are
// dropped.
func (db *DB) UpdateIdentity(ctx context.Context, id string, fn func(*store.Identity) error) (store.Identity, error) {
	id, ok := store.CanonicalID(id)
	if !ok {
		return store.Identity{}, wrap("update identity", store.ErrNotFound)
	}
	var saved store.Identity
	err := db.inTx(ctx, func(tx *sql.Tx) (err error) {
		saved, err = store.Edit(func() (store.Identity, error) {
			return scanIdentity(tx.QueryRowContext(ctx, store.GetIdentityByIDSQL, id))
		}, fn, func(i store.Identity) (store.Identity, error) {
			return scanIdentity(tx.QueryRowContext(ctx, store.UpdateIdentitySQL, codec.SaveIdentityArgs(id, i)...))
		})
		return err
	})
	return store.Saved(saved, finish("update identity", err))
}

// DetachIdentity reads the user and its identities under the write lock,
// runs fn with the identities but the one with id, and deletes that one
// if fn returns nil; see store.Identities.
func (db *DB) DetachIdentity(ctx context.Context, userID, id string, fn func(store.User, []store.Identity) error) error {
	userID, ok := store.CanonicalID(userID)
	id, ok2 := store.CanonicalID(id)
	if !ok || !ok2 {
		return wrap("detach identity", store.ErrNotFound)
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		u, err := selectUser(ctx, tx, userID)
		if err != nil {
			return err
		}
		ids, err := queryAll(ctx, tx, scanIdentity, store.ListIdentitiesSQL, userID)
		if err != nil {
			return err
		}
		if err := store.Detach(u, ids, id, fn); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, store.DeleteIdentitySQL, id, userID)
		return err
	})
	return finish("detach identity", err)
}

// ClaimNonce records the nonce hash as used until expires;
// store.ErrAlreadyExists if it is recorded with an expiry after now.
func (db *DB) ClaimNonce(ctx context.Context, hash []byte, now, expires time.Time) error {
	args, err := codec.NonceArgs(hash, now, expires)
	if err != nil {
		return wrap("claim nonce", err)
	}
	res, err := db.execWrite(ctx, store.ClaimNonceSQL, args...)
	if err != nil {
		return wrap("claim nonce", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap("claim nonce", err)
	}
	if n == 0 {
		return wrap("claim nonce", store.ErrAlreadyExists)
	}
	return nil
}

// DeleteNoncesBefore deletes, in batches (see deleteInBatches), the
// nonces that expired before t.
func (db *DB) DeleteNoncesBefore(ctx context.Context, t time.Time) (int64, error) {
	return db.deleteBefore(ctx, "delete nonces before", `DELETE FROM id_token_nonces WHERE rowid IN (
		SELECT rowid FROM id_token_nonces WHERE expires_at < ? LIMIT ?)`, t)
}
