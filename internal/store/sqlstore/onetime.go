package sqlstore

import (
	"context"

	"github.com/latchauth/latch/internal/store"
)

// CreateOneTimeToken inserts t. store.ErrAlreadyExists if its id or hash
// is taken; store.ErrNotFound if its user does not exist (a user id that
// is not a UUID names no user). t.ID must be a UUID, t.Hash not empty,
// t.Purpose one of the store's purposes, and t.CreatedAt and t.ExpiresAt
// not zero.
func (s Store[T]) CreateOneTimeToken(ctx context.Context, t store.OneTimeToken) error {
	args, err := s.c.TokenArgs(t)
	return s.insert(ctx, "create one-time token", store.InsertTokenSQL, args, err)
}

// UseOneTimeToken runs fn on the token with this hash and its user, both
// locked (the user first: see editOwned), then saves the token's UsedAt
// and Attempts and the user as UpdateUser does (the same code), in the
// same transaction; see store.OneTimeTokens.
func (s Store[T]) UseOneTimeToken(ctx context.Context, hash []byte, fn func(*store.OneTimeToken, *store.User) error) (store.OneTimeToken, store.User, error) {
	if len(hash) == 0 {
		return store.OneTimeToken{}, store.User{}, s.d.Wrap("use one-time token", store.ErrNotFound)
	}
	var savedToken store.OneTimeToken
	savedUser, err := editOwned(ctx, s, store.TokenUserSQL, s.locking(store.TokenOfUserSQL, store.TokenOfUserSQL+` FOR UPDATE`), hash, s.c.ScanToken,
		func(tx Querier, userID string, u *store.User, t store.OneTimeToken) (err error) {
			tokenID, purpose, wasUsed := t.ID, t.Purpose, !t.UsedAt.IsZero()
			if err := fn(&t, u); err != nil {
				return store.CallerError{Err: err}
			}
			if savedToken, err = s.saveToken(ctx, tx, tokenID, t); err != nil {
				return err
			}
			if wasUsed || savedToken.UsedAt.IsZero() {
				return nil
			}
			// The user's lock serialises this with every other use of the
			// user's tokens.
			_, err = tx.Exec(ctx, store.SpendTokensSQL, s.c.Time(savedToken.UsedAt), userID, string(purpose), tokenID)
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
	return s.c.ScanToken(tx.QueryRow(ctx, store.UpdateTokenSQL, s.c.SaveTokenArgs(id, t)...))
}

// ListOneTimeTokens returns the user's unused tokens of one purpose,
// newest first (ties broken by id, descending), expired ones included.
func (s Store[T]) ListOneTimeTokens(ctx context.Context, userID string, purpose store.TokenPurpose) ([]store.OneTimeToken, error) {
	return listOfUser(ctx, s, "list one-time tokens", s.c.ScanToken, store.ListTokensSQL, userID, string(purpose))
}

// UpdateOneTimeToken applies fn to the token, locked, and saves its
// UsedAt and Attempts; changes to its other fields are dropped.
func (s Store[T]) UpdateOneTimeToken(ctx context.Context, id string, fn func(*store.OneTimeToken) error) (store.OneTimeToken, error) {
	return updateColumns(ctx, s, "update one-time token", id, fn, s.c.ScanToken,
		s.locking(store.GetTokenSQL, store.GetTokenSQL+` FOR UPDATE`), store.UpdateTokenSQL, s.c.SaveTokenArgs)
}
