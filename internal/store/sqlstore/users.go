package sqlstore

import (
	"context"
	"fmt"

	"github.com/latchauth/latch/internal/store"
)

// CreateUser inserts u; store.ErrAlreadyExists if its id or email is
// taken. u.ID must be a UUID.
func (s Store[T]) CreateUser(ctx context.Context, u store.User) error {
	args, err := s.c.UserArgs(u)
	return s.insert(ctx, "create user", store.InsertUserSQL, args, err)
}

// CreateUserWithSession inserts u, then s and its refresh token, in one
// transaction: store.ErrAlreadyExists, and nothing written, if the user's
// id or email, or the session's id or refresh hash, is taken. s.UserID must
// name u.
func (s Store[T]) CreateUserWithSession(ctx context.Context, u store.User, ss store.Session) error {
	ns, args, err := s.c.NewSession(ss)
	return s.createUserWith(ctx, "create user with session", u, "session", ns.UserID, err, func(tx Querier) error {
		return s.insertSession(ctx, tx, ns, args)
	})
}

// createUserWith inserts u and then, with insert, the first row that
// names it (what: a session, an identity), in one transaction, so that
// neither is written without the other. userID is that row's user id,
// in canonical form, which must be u's, and rowErr what checking the row
// found wrong, if anything.
func (s Store[T]) createUserWith(ctx context.Context, op string, u store.User, what, userID string, rowErr error, insert func(tx Querier) error) error {
	args, err := s.c.UserArgs(u)
	switch id, _ := store.CanonicalID(u.ID); {
	case err != nil:
	case rowErr != nil:
		err = rowErr
	case userID != id:
		err = fmt.Errorf("the %s's user id is not the user's", what)
	}
	if err != nil {
		return s.d.Wrap(op, err)
	}
	err = s.d.InTx(ctx, func(tx Querier) error {
		if _, err := tx.Exec(ctx, store.InsertUserSQL, args...); err != nil {
			return err
		}
		return insert(tx)
	})
	return s.finish(op, err)
}

// GetUser returns the user with this id; store.ErrNotFound if none.
func (s Store[T]) GetUser(ctx context.Context, id string) (store.User, error) {
	return getByID(ctx, s, "get user", s.c.ScanUser, store.GetUserSQL, id)
}

// GetUserByEmail returns the user with this (already normalised) email;
// store.ErrNotFound if none.
func (s Store[T]) GetUserByEmail(ctx context.Context, email string) (store.User, error) {
	return getOne(ctx, s, "get user by email", s.c.ScanUser, store.GetUserByEmailSQL, email, true)
}

// ListUsers pages through users in creation order (ties broken by id).
// store.ErrNotFound if opts.After names no user, so that a deleted cursor
// is not mistaken for the end of the list.
func (s Store[T]) ListUsers(ctx context.Context, opts store.ListUsersOptions) ([]store.User, error) {
	limit := opts.PageSize()
	query, args := store.ListUsersSQL, []any{limit}
	if opts.After != "" {
		after, ok := store.CanonicalID(opts.After)
		if !ok {
			return nil, s.d.Wrap("list users", store.ErrNotFound)
		}
		var created T
		if err := s.d.Read().QueryRow(ctx, store.UserCreatedSQL, after).Scan(&created); err != nil {
			return nil, s.d.Wrap("list users", err)
		}
		query, args = store.ListUsersAfterSQL, []any{created, after, limit}
	}
	users, err := queryAll(ctx, s.d.Read(), s.c.ScanUser, query, args...)
	return store.Saved(users, s.finish("list users", err))
}

// UpdateUser applies fn to the user, locked, and saves the result; see
// store.Users. Changing the id is an error.
func (s Store[T]) UpdateUser(ctx context.Context, id string, fn func(*store.User) error) (store.User, error) {
	return updateByID(ctx, s, "update user", id, func(tx Querier, id string) (store.User, error) {
		return s.editUser(ctx, tx, id, fn)
	})
}

// lockUser reads the user with id (canonical) in tx and locks its row
// until tx ends.
func (s Store[T]) lockUser(ctx context.Context, tx Querier, id string) (store.User, error) {
	return s.c.ScanUser(tx.QueryRow(ctx, s.locking(store.GetUserSQL, store.GetUserSQL+` FOR UPDATE`), id))
}

// lockUserWith locks the user with id (canonical) in tx, as lockUser
// does, and reads with listSQL ($1 the user id) the user's rows of one
// kind (its factors, its identities), decoded with scan. Every method
// that adds or removes such a row takes the same lock first, so the set
// stays as read until tx ends.
func lockUserWith[V, T any](ctx context.Context, s Store[T], tx Querier, id string, scan func(store.Scanner) (V, error), listSQL string) (store.User, []V, error) {
	u, err := s.lockUser(ctx, tx, id)
	if err != nil {
		return store.User{}, nil, err
	}
	rows, err := queryAll(ctx, tx, scan, listSQL, id)
	return u, rows, err
}

// editOwned is the read-modify-write of a row that belongs to a user (a
// one-time token, a factor) together with that user, in one transaction:
// it reads the row's user id with ownerSQL ($1 key), locks the user,
// locks the row with lockSQL ($1 key, $2 the user id) and decodes it
// with scan, runs edit with both, and saves the user as edit left it
// (see saveUser); the user as saved is what it returns.
//
// It locks the user before the row, the order DeleteUser takes them in
// (the user's row, then its rows by cascade): in the other order, one of
// the two could wait for the other's lock while holding the one the other
// waits for. So it first reads the row's user id without a lock; the row
// cannot move to another user, but it can be deleted in between, in which
// case the locking read finds nothing: store.ErrNotFound, as if it had
// been deleted just before.
func editOwned[V, T any](ctx context.Context, s Store[T], ownerSQL, lockSQL string, key any, scan func(store.Scanner) (V, error),
	edit func(tx Querier, userID string, u *store.User, row V) error) (store.User, error) {
	var saved store.User
	err := s.d.InTx(ctx, func(tx Querier) error {
		var userID string
		if err := tx.QueryRow(ctx, ownerSQL, key).Scan(&userID); err != nil {
			return err
		}
		u, err := s.lockUser(ctx, tx, userID)
		if err != nil {
			return err
		}
		row, err := scan(tx.QueryRow(ctx, lockSQL, key, userID))
		if err != nil {
			return err
		}
		if err := edit(tx, userID, &u, row); err != nil {
			return err
		}
		saved, err = s.saveUser(ctx, tx, userID, u)
		return err
	})
	return saved, err
}

// editUser locks the user with id (canonical) in tx, applies fn and saves
// the result; a nil fn changes nothing and saves nothing.
func (s Store[T]) editUser(ctx context.Context, tx Querier, id string, fn func(*store.User) error) (store.User, error) {
	load := func() (store.User, error) { return s.lockUser(ctx, tx, id) }
	if fn == nil {
		return load()
	}
	return store.Edit(load, fn, func(u store.User) (store.User, error) { return s.saveUser(ctx, tx, id, u) })
}

// saveUser saves u, the user with id (canonical) as a caller's func left
// it, in tx, and returns it as stored: every column but the id, which must
// not have changed. store.ErrAlreadyExists (through Wrap) if the new email
// is taken.
func (s Store[T]) saveUser(ctx context.Context, tx Querier, id string, u store.User) (store.User, error) {
	args, err := s.c.SaveUserArgs(id, u)
	if err != nil {
		return store.User{}, err
	}
	return s.c.ScanUser(tx.QueryRow(ctx, store.UpdateUserSQL, args...))
}

// DeleteUser removes the user; the schema's cascades remove its sessions,
// their refresh tokens, its one-time tokens, its identities and its
// factors in the same statement. Its audit events and queued mail stay:
// they reference nothing. store.ErrNotFound if there is no such user.
func (s Store[T]) DeleteUser(ctx context.Context, id string) error {
	id, ok := store.CanonicalID(id)
	if !ok {
		return s.d.Wrap("delete user", store.ErrNotFound)
	}
	return s.finish("delete user", exactlyOne(s.d.Write().Exec(ctx, store.DeleteUserSQL, id)))
}
