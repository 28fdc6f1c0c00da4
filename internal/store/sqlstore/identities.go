package sqlstore

import (
	"context"
	"time"

	"github.com/latchauth/latch/internal/store"
)

// CreateUserWithIdentity inserts u, then i, in one transaction:
// store.ErrAlreadyExists, and nothing written, if the user's id or email,
// or the identity's id or (provider, subject), is taken. i.UserID must
// name u.
func (s Store[T]) CreateUserWithIdentity(ctx context.Context, u store.User, i store.Identity) error {
	ni, args, err := s.c.NewIdentity(i)
	return s.createUserWith(ctx, "create user with identity", u, "identity", ni.UserID, err, func(tx Querier) error {
		return s.insertIdentity(ctx, tx, ni.UserID, args)
	})
}

// insertIdentity inserts an identity of the user with userID, checked and
// encoded by Codec.NewIdentity into args, and counts it in the user's
// row, in tx.
func (s Store[T]) insertIdentity(ctx context.Context, tx Querier, userID string, args []any) error {
	if _, err := tx.Exec(ctx, store.InsertIdentitySQL, args...); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, store.CountIdentitiesSQL, userID, 1)
	return err
}

// AttachIdentity locks the user i.UserID, applies fn (if not nil) and
// saves the user as UpdateUser does, and inserts i, in one transaction;
// see store.Identities. Two attaches of one (provider, subject) to two
// users lock different rows: the unique key settles them.
func (s Store[T]) AttachIdentity(ctx context.Context, i store.Identity, fn func(*store.User) error) (store.User, error) {
	ni, args, err := s.c.NewIdentity(i)
	if err != nil {
		return store.User{}, s.d.Wrap("attach identity", err)
	}
	var saved store.User
	err = s.d.InTx(ctx, func(tx Querier) (err error) {
		if saved, err = s.editUser(ctx, tx, ni.UserID, fn); err != nil {
			return err
		}
		saved.Identities++
		return s.insertIdentity(ctx, tx, ni.UserID, args)
	})
	return store.Saved(saved, s.finish("attach identity", err))
}

// GetIdentity returns the identity of this provider and subject;
// store.ErrNotFound if none.
func (s Store[T]) GetIdentity(ctx context.Context, provider, subject string) (store.Identity, error) {
	i, err := s.c.ScanIdentity(s.d.Read().QueryRow(ctx, store.GetIdentitySQL, provider, subject))
	return store.Saved(i, s.finish("get identity", err))
}

// ListIdentities returns the user's identities, oldest first (ties broken
// by id).
func (s Store[T]) ListIdentities(ctx context.Context, userID string) ([]store.Identity, error) {
	return listOfUser(ctx, s, "list identities", s.c.ScanIdentity, store.ListIdentitiesSQL, userID)
}

// UpdateIdentity applies fn to the identity, locked, and saves its Email
// and LastSignInAt; changes to its other fields are dropped.
func (s Store[T]) UpdateIdentity(ctx context.Context, id string, fn func(*store.Identity) error) (store.Identity, error) {
	return updateColumns(ctx, s, "update identity", id, fn, s.c.ScanIdentity,
		s.locking(store.GetIdentityByIDSQL, store.GetIdentityByIDSQL+` FOR UPDATE`), store.UpdateIdentitySQL, s.c.SaveIdentityArgs)
}

// DetachIdentity locks the user, reads its identities, runs fn with those
// but the one with id, and deletes that one if fn returns nil; see
// store.Identities. The user's lock is what serialises two detaches (and
// an attach) on one user: each sees what the other left.
func (s Store[T]) DetachIdentity(ctx context.Context, userID, id string, fn func(store.User, []store.Identity) error) error {
	userID, ok := store.CanonicalID(userID)
	id, ok2 := store.CanonicalID(id)
	if !ok || !ok2 {
		return s.d.Wrap("detach identity", store.ErrNotFound)
	}
	err := s.d.InTx(ctx, func(tx Querier) error {
		u, ids, err := lockUserWith(ctx, s, tx, userID, s.c.ScanIdentity, store.ListIdentitiesSQL)
		if err != nil {
			return err
		}
		if err := store.Detach(u, ids, id, fn); err != nil {
			return err
		}
		if _, err = tx.Exec(ctx, store.DeleteIdentitySQL, id, userID); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, store.CountIdentitiesSQL, userID, -1)
		return err
	})
	return s.finish("detach identity", err)
}

// ClaimNonce records the nonce hash as used until expires;
// store.ErrAlreadyExists if it is recorded with an expiry after now. Of
// two claims of one new hash at once, the second finds the first's row
// (on PostgreSQL, once the first commits) unexpired and changes nothing.
func (s Store[T]) ClaimNonce(ctx context.Context, hash []byte, now, expires time.Time) error {
	args, err := s.c.NonceArgs(hash, now, expires)
	if err != nil {
		return s.d.Wrap("claim nonce", err)
	}
	n, err := s.d.Write().Exec(ctx, store.ClaimNonceSQL, args...)
	if err == nil && n == 0 {
		err = store.ErrAlreadyExists
	}
	return s.finish("claim nonce", err)
}
