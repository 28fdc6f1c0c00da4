package sqlstore

import (
	"context"
	"errors"

	"github.com/latchauth/latch/internal/store"
)

func (s Store[T]) scanUser(row store.Scanner) (store.User, error) { return store.ScanUser(s.c, row) }

// CreateUser inserts u; store.ErrAlreadyExists if its id or email is
// taken. u.ID must be a UUID.
func (s Store[T]) CreateUser(ctx context.Context, u store.User) error {
	args, err := s.c.UserArgs(u)
	if err != nil {
		return s.d.Wrap("create user", err)
	}
	_, err = s.d.Write().Exec(ctx, store.InsertUserSQL, args...)
	return s.finish("create user", err)
}

// CreateUserWithSession inserts u, then s and its refresh token, in one
// transaction: store.ErrAlreadyExists, and nothing written, if the user's
// id or email, or the session's id or refresh hash, is taken. s.UserID must
// name u.
func (s Store[T]) CreateUserWithSession(ctx context.Context, u store.User, ss store.Session) error {
	args, err := s.c.UserArgs(u)
	if err != nil {
		return s.d.Wrap("create user with session", err)
	}
	ns, sargs, err := s.c.NewSession(ss)
	if err != nil {
		return s.d.Wrap("create user with session", err)
	}
	if id, _ := store.CanonicalID(u.ID); ns.UserID != id {
		return s.d.Wrap("create user with session", errors.New("the session's user id is not the user's"))
	}
	err = s.d.InTx(ctx, func(tx Querier) error {
		if _, err := tx.Exec(ctx, store.InsertUserSQL, args...); err != nil {
			return err
		}
		return s.insertSession(ctx, tx, ns, sargs)
	})
	return s.finish("create user with session", err)
}

// GetUser returns the user with this id; store.ErrNotFound if none.
func (s Store[T]) GetUser(ctx context.Context, id string) (store.User, error) {
	id, ok := store.CanonicalID(id)
	if !ok {
		return store.User{}, s.d.Wrap("get user", store.ErrNotFound)
	}
	u, err := s.scanUser(s.d.Read().QueryRow(ctx, store.GetUserSQL, id))
	return store.Saved(u, s.finish("get user", err))
}

// GetUserByEmail returns the user with this (already normalised) email;
// store.ErrNotFound if none.
func (s Store[T]) GetUserByEmail(ctx context.Context, email string) (store.User, error) {
	u, err := s.scanUser(s.d.Read().QueryRow(ctx, store.GetUserByEmailSQL, email))
	return store.Saved(u, s.finish("get user by email", err))
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
	users, err := queryAll(ctx, s.d.Read(), s.scanUser, query, args...)
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
	return s.scanUser(tx.QueryRow(ctx, s.locking(store.GetUserSQL, store.GetUserSQL+` FOR UPDATE`), id))
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
	return s.scanUser(tx.QueryRow(ctx, store.UpdateUserSQL, args...))
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
