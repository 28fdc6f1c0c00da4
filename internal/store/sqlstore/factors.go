package sqlstore

import (
	"context"

	"github.com/latchauth/latch/internal/store"
)

// CreateFactor inserts f. store.ErrAlreadyExists if its id or credential
// id is taken; store.ErrNotFound if its user does not exist (a user id
// that is not a UUID names no user). f.ID must be a UUID, f.Type one of
// the store's factor types, f.CreatedAt not zero, and f.CredentialID
// empty unless f is a WebAuthn factor.
func (s Store[T]) CreateFactor(ctx context.Context, f store.Factor) error {
	_, args, err := s.c.NewFactor(f)
	return s.insert(ctx, "create factor", store.InsertFactorSQL, args, err)
}

// GetFactor returns the factor with this id, pending or not;
// store.ErrNotFound if none.
func (s Store[T]) GetFactor(ctx context.Context, id string) (store.Factor, error) {
	return getByID(ctx, s, "get factor", s.c.ScanFactor, store.GetFactorSQL, id)
}

// GetFactorByCredential returns the factor with this WebAuthn credential
// id; store.ErrNotFound if none (an empty id names none).
func (s Store[T]) GetFactorByCredential(ctx context.Context, credentialID []byte) (store.Factor, error) {
	return getOne(ctx, s, "get factor by credential", s.c.ScanFactor, store.GetFactorByCredentialSQL, credentialID, len(credentialID) > 0)
}

// ListFactors returns the user's factors, pending ones included, oldest
// first (ties broken by id).
func (s Store[T]) ListFactors(ctx context.Context, userID string) ([]store.Factor, error) {
	return listOfUser(ctx, s, "list factors", s.c.ScanFactor, store.ListFactorsSQL, userID)
}

// UpdateFactor applies fn to the factor, locked, and saves its Name,
// Secret, Counter and LastUsedAt; changes to its other fields are
// dropped. The lock is the factor's row alone (on PostgreSQL; SQLite's
// write transaction excludes every other writer): two updates of one
// factor run one after the other, the second seeing what the first
// saved, which is what makes a TOTP step or a recovery code good once.
func (s Store[T]) UpdateFactor(ctx context.Context, id string, fn func(*store.Factor) error) (store.Factor, error) {
	return updateColumns(ctx, s, "update factor", id, fn, s.c.ScanFactor,
		s.locking(store.GetFactorSQL, store.GetFactorSQL+` FOR UPDATE`), store.UpdateFactorSQL, s.c.SaveFactorArgs)
}

// VerifyFactor locks the factor's user, then the factor (see editOwned),
// runs fn with both and the user's other factors (pending ones included,
// oldest first), and saves the user as UpdateUser does and what
// VerifyFactor saves of the factor, in one transaction; see
// store.Factors.
//
// The user's lock, which DeleteFactors takes too, also keeps the set of
// the other factors as fn saw it: DeleteFactors and VerifyFactor take the
// same lock, and on PostgreSQL CreateFactor's foreign-key check waits for
// it. UpdateFactor, which locks its factor only, may still change another
// factor's counter or last use meanwhile.
func (s Store[T]) VerifyFactor(ctx context.Context, id string, fn func(u *store.User, f *store.Factor, others []store.Factor) error) (store.User, store.Factor, error) {
	id, ok := store.CanonicalID(id)
	if !ok {
		return store.User{}, store.Factor{}, s.d.Wrap("verify factor", store.ErrNotFound)
	}
	var savedFactor store.Factor
	savedUser, err := editOwned(ctx, s, store.FactorUserSQL, s.locking(store.FactorOfUserSQL, store.FactorOfUserSQL+` FOR UPDATE`), id, s.c.ScanFactor,
		func(tx Querier, userID string, u *store.User, f store.Factor) error {
			others, err := queryAll(ctx, tx, s.c.ScanFactor, store.ListOtherFactorsSQL, userID, id)
			if err != nil {
				return err
			}
			old := f
			if err := fn(u, &f, others); err != nil {
				return store.CallerError{Err: err}
			}
			args, err := s.c.VerifyFactorArgs(old, f)
			if err != nil {
				return err
			}
			// A credential id another factor has fails here, with a unique
			// violation (store.ErrAlreadyExists through Wrap), and the user's
			// change is rolled back with it.
			savedFactor, err = s.c.ScanFactor(tx.QueryRow(ctx, store.VerifyFactorSQL, args...))
			return err
		})
	if err != nil {
		return store.User{}, store.Factor{}, s.finish("verify factor", err)
	}
	return savedUser, savedFactor, nil
}

// DeleteFactors locks the user, reads its factors, runs fn with both and
// deletes the factors whose ids fn returns, in one transaction; see
// store.Factors. The user's lock is what serialises two deletes (and a
// verify) on one user: each sees what the other left. An id fn returns
// that names none of the user's factors (another user's, an unknown or
// malformed one) deletes nothing; the count says how many went.
func (s Store[T]) DeleteFactors(ctx context.Context, userID string, fn func(u store.User, factors []store.Factor) ([]string, error)) (int64, error) {
	userID, ok := store.CanonicalID(userID)
	if !ok {
		return 0, s.d.Wrap("delete factors", store.ErrNotFound)
	}
	var deleted int64
	err := s.d.InTx(ctx, func(tx Querier) error {
		deleted = 0
		u, factors, err := lockUserWith(ctx, s, tx, userID, s.c.ScanFactor, store.ListFactorsSQL)
		if err != nil {
			return err
		}
		ids, err := fn(u, factors)
		if err != nil {
			return store.CallerError{Err: err}
		}
		for _, id := range ids {
			id, ok := store.CanonicalID(id)
			if !ok {
				continue
			}
			n, err := tx.Exec(ctx, store.DeleteFactorSQL, id, userID)
			if err != nil {
				return err
			}
			deleted += n
		}
		return nil
	})
	return store.Saved(deleted, s.finish("delete factors", err))
}
