package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchauth/latch/internal/store"
)

func scanIdentity(row pgx.Row) (store.Identity, error) { return store.ScanIdentity(codec, row) }

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
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, store.InsertUserSQL, args...); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, store.InsertIdentitySQL, iargs...)
		return err
	})
	return finish("create user with identity", err)
}

// AttachIdentity locks the user i.UserID (FOR UPDATE), applies fn (if not
// nil) and saves the user as UpdateUser does, and inserts i, in one
// transaction; see store.Identities. Two attaches of one (provider,
// subject) to two users lock different rows: the unique index settles
// them, the second insert waiting for the first to commit.
func (db *DB) AttachIdentity(ctx context.Context, i store.Identity, fn func(*store.User) error) (store.User, error) {
	ni, args, err := codec.NewIdentity(i)
	if err != nil {
		return store.User{}, wrap("attach identity", err)
	}
	var saved store.User
	err = db.inTx(ctx, func(tx pgx.Tx) (err error) {
		load := func() (store.User, error) { return lockUser(ctx, tx, ni.UserID) }
		if fn == nil {
			saved, err = load()
		} else {
			saved, err = store.Edit(load, fn,
				func(u store.User) (store.User, error) { return saveUser(ctx, tx, ni.UserID, u) })
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, store.InsertIdentitySQL, args...)
		return err
	})
	return store.Saved(saved, finish("attach identity", err))
}

// GetIdentity returns the identity of this provider and subject;
// store.ErrNotFound if none.
func (db *DB) GetIdentity(ctx context.Context, provider, subject string) (store.Identity, error) {
	i, err := scanIdentity(db.pool.QueryRow(ctx, store.GetIdentitySQL, provider, subject))
	return store.Saved(i, finish("get identity", err))
}

// ListIdentities returns the user's identities, oldest first (ties broken
// by id).
func (db *DB) ListIdentities(ctx context.Context, userID string) ([]store.Identity, error) {
	userID, ok := store.CanonicalID(userID)
	if !ok {
		return nil, nil
	}
	ids, err := queryAll(ctx, db.pool, scanIdentity, store.ListIdentitiesSQL, userID)
	if err != nil || len(ids) == 0 {
		return nil, finish("list identities", err) // nil, as the SQLite backend answers
	}
	return ids, nil
}

// UpdateIdentity applies fn to the identity, locked with FOR UPDATE, and
// saves its Email and LastSignInAt; changes to its other fields are
// dropped.
func (db *DB) UpdateIdentity(ctx context.Context, id string, fn func(*store.Identity) error) (store.Identity, error) {
	id, ok := store.CanonicalID(id)
	if !ok {
		return store.Identity{}, wrap("update identity", store.ErrNotFound)
	}
	var saved store.Identity
	err := db.inTx(ctx, func(tx pgx.Tx) (err error) {
		saved, err = store.Edit(func() (store.Identity, error) {
			return scanIdentity(tx.QueryRow(ctx, store.GetIdentityByIDSQL+` FOR UPDATE`, id))
		}, fn, func(i store.Identity) (store.Identity, error) {
			return scanIdentity(tx.QueryRow(ctx, store.UpdateIdentitySQL, codec.SaveIdentityArgs(id, i)...))
		})
		return err
	})
	return store.Saved(saved, finish("update identity", err))
}

// DetachIdentity locks the user (FOR UPDATE), reads its identities, runs
// fn with those but the one with id, and deletes that one if fn returns
// nil; see store.Identities. The user's lock is what serialises two
// detaches (and an attach) on one user: each sees what the other left.
func (db *DB) DetachIdentity(ctx context.Context, userID, id string, fn func(store.User, []store.Identity) error) error {
	userID, ok := store.CanonicalID(userID)
	id, ok2 := store.CanonicalID(id)
	if !ok || !ok2 {
		return wrap("detach identity", store.ErrNotFound)
	}
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		u, err := lockUser(ctx, tx, userID)
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
		_, err = tx.Exec(ctx, store.DeleteIdentitySQL, id, userID)
		return err
	})
	return finish("detach identity", err)
}

// ClaimNonce records the nonce hash as used until expires;
// store.ErrAlreadyExists if it is recorded with an expiry after now. Two
// claims of one new hash at once: the second insert waits for the first
// to commit, then finds its row unexpired and changes nothing.
func (db *DB) ClaimNonce(ctx context.Context, hash []byte, now, expires time.Time) error {
	args, err := codec.NonceArgs(hash, now, expires)
	if err != nil {
		return wrap("claim nonce", err)
	}
	tag, err := db.pool.Exec(ctx, store.ClaimNonceSQL, args...)
	if err != nil {
		return wrap("claim nonce", err)
	}
	if tag.RowsAffected() == 0 {
		return wrap("claim nonce", store.ErrAlreadyExists)
	}
	return nil
}

// DeleteNoncesBefore deletes, in batches (see deleteInBatches), the
// nonces that expired before t.
func (db *DB) DeleteNoncesBefore(ctx context.Context, t time.Time) (int64, error) {
	return db.deleteBefore(ctx, "delete nonces before", `DELETE FROM id_token_nonces WHERE hash IN (
		SELECT hash FROM id_token_nonces WHERE expires_at < $1
		LIMIT $2 FOR UPDATE SKIP LOCKED)`, t)
}
