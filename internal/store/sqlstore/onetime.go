package sqlstore

import (
	"context"

	"github.com/latchauth/latch/internal/store"
)

func (s Store[T]) scanToken(row store.Scanner) (store.OneTimeToken, error) {
	return store.ScanToken(s.c, row)
}

// CreateOneTimeToken inserts t. store.ErrAlreadyExists if its id or hash
// is taken; store.ErrNotFound if its user does not exist (a user id that
// is not a UUID names no user). t.ID must be a UUID, t.Hash not empty,
// t.Purpose one of the store's purposes, and t.CreatedAt and t.ExpiresAt
// not zero.
func (s Store[T]) CreateOneTimeToken(ctx context.Context, t store.OneTimeToken) error {
	args, err := s.c.TokenArgs(t)
	if err != nil {
		return s.d.Wrap("create one-time token", err)
	}
	_, err = s.d.Write().Exec(ctx, store.InsertTokenSQL, args...)
	if s.d.IsForeignKey(err) {
		err = store.ErrNotFound
	}
	return s.finish("create one-time token", err)
}

// UseOneTimeToken runs fn on the token with this hash and its user, both
// locked, then saves the token's UsedAt and Attempts and the user as
// UpdateUser does (the same code), in the same transaction; see
// store.OneTimeTokens.
//
// It locks the user before the token, the order DeleteUser takes them in
// (the user's row, then its tokens by cascade): in the other order, one of
// the two could wait for the other's lock while holding the one the other
// waits for. So it first reads the token's user id without a lock; the
// token cannot move to another user, but it can be deleted in between, in
// which case the locking read finds nothing: store.ErrNotFound, as if it
// had been deleted just before.
func (s Store[T]) UseOneTimeToken(ctx context.Context, hash []byte, fn func(*store.OneTimeToken, *store.User) error) (store.OneTimeToken, store.User, error) {
	if len(hash) == 0 {
		return store.OneTimeToken{}, store.User{}, s.d.Wrap("use one-time token", store.ErrNotFound)
	}
	var (
		savedToken store.OneTimeToken
		savedUser  store.User
	)
	err := s.d.InTx(ctx, func(tx Querier) error {
		var userID string
		if err := tx.QueryRow(ctx, store.TokenUserSQL, hash).Scan(&userID); err != nil {
			return err
		}
		u, err := s.lockUser(ctx, tx, userID)
		if err != nil {
			return err
		}
		t, err := s.scanToken(tx.QueryRow(ctx, s.locking(store.TokenOfUserSQL, store.TokenOfUserSQL+` FOR UPDATE`), hash, userID))
		if err != nil {
			return err
		}
		tokenID, purpose, wasUsed := t.ID, t.Purpose, !t.UsedAt.IsZero()
		if err := fn(&t, &u); err != nil {
			return store.CallerError{Err: err}
		}
		savedToken, err = s.saveToken(ctx, tx, tokenID, t)
		if err != nil {
			return err
		}
		if !wasUsed && !savedToken.UsedAt.IsZero() {
			// The user's lock serialises this with every other use of the
			// user's tokens.
			if _, err := tx.Exec(ctx, store.SpendTokensSQL,
				s.c.Time(savedToken.UsedAt), userID, string(purpose), tokenID); err != nil {
				return err
			}
		}
		savedUser, err = s.saveUser(ctx, tx, userID, u)
		return err
	})
	if err != nil {
		return store.OneTimeToken{}, store.User{}, s.finish("use one-time token", err)
	}
	return savedToken, savedUser, nil
}

// saveToken saves the fields of t that a caller's func may change (UsedAt
// and Attempts) to the token with id, in tx, and returns the token as
// stored.
func (s Store[T]) saveToken(ctx context.Context, tx Querier, id string, t store.OneTimeToken) (store.OneTimeToken, error) {
	return s.scanToken(tx.QueryRow(ctx, store.UpdateTokenSQL, s.c.SaveTokenArgs(id, t)...))
}

// ListOneTimeTokens returns the user's unused tokens of one purpose,
// newest first (ties broken by id, descending), expired ones included.
func (s Store[T]) ListOneTimeTokens(ctx context.Context, userID string, purpose store.TokenPurpose) ([]store.OneTimeToken, error) {
	return listOfUser(ctx, s, "list one-time tokens", s.scanToken, store.ListTokensSQL, userID, string(purpose))
}

// UpdateOneTimeToken applies fn to the token, locked, and saves its
// UsedAt and Attempts; changes to its other fields are dropped.
func (s Store[T]) UpdateOneTimeToken(ctx context.Context, id string, fn func(*store.OneTimeToken) error) (store.OneTimeToken, error) {
	return updateByID(ctx, s, "update one-time token", id, func(tx Querier, id string) (store.OneTimeToken, error) {
		return store.Edit(func() (store.OneTimeToken, error) {
			return s.scanToken(tx.QueryRow(ctx, s.locking(store.GetTokenSQL, store.GetTokenSQL+` FOR UPDATE`), id))
		}, fn, func(t store.OneTimeToken) (store.OneTimeToken, error) { return s.saveToken(ctx, tx, id, t) })
	})
}
