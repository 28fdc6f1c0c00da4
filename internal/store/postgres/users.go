package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/latchauth/latch/internal/store"
)

// userRow receives the columns of store.UserColumns from a Scan.
type userRow = store.UserRow[pgtype.Timestamptz]

func scanUser(row pgx.Row) (store.User, error) { return store.ScanUser(codec, row) }

// CreateUser inserts u; store.ErrAlreadyExists if its id or email is
// taken. u.ID must be a UUID.
func (db *DB) CreateUser(ctx context.Context, u store.User) error {
	args, err := codec.UserArgs(u)
	if err != nil {
		return wrap("create user", err)
	}
	if _, err := db.pool.Exec(ctx, store.InsertUserSQL, args...); err != nil {
		return wrap("create user", err)
	}
	return nil
}

// CreateUserWithSession inserts u, then s and its refresh token, in one
// transaction: store.ErrAlreadyExists, and nothing written, if the user's
// id or email, or the session's id or refresh hash, is taken. s.UserID must
// name u.
func (db *DB) CreateUserWithSession(ctx context.Context, u store.User, s store.Session) error {
	args, err := codec.UserArgs(u)
	if err != nil {
		return wrap("create user with session", err)
	}
	ns, sargs, err := codec.NewSession(s)
	if err != nil {
		return wrap("create user with session", err)
	}
	if id, _ := store.CanonicalID(u.ID); ns.UserID != id {
		return wrap("create user with session", errors.New("the session's user id is not the user's"))
	}
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, store.InsertUserSQL, args...); err != nil {
			return err
		}
		return insertSession(ctx, tx, ns, sargs)
	})
	return finish("create user with session", err)
}

// GetUser returns the user with this id; store.ErrNotFound if none.
func (db *DB) GetUser(ctx context.Context, id string) (store.User, error) {
	id, ok := store.CanonicalID(id)
	if !ok {
		return store.User{}, wrap("get user", store.ErrNotFound)
	}
	u, err := scanUser(db.pool.QueryRow(ctx, store.GetUserSQL, id))
	return store.Saved(u, finish("get user", err))
}

// GetUserByEmail returns the user with this (already normalised) email;
// store.ErrNotFound if none.
func (db *DB) GetUserByEmail(ctx context.Context, email string) (store.User, error) {
	u, err := scanUser(db.pool.QueryRow(ctx, store.GetUserByEmailSQL, email))
	return store.Saved(u, finish("get user by email", err))
}

// ListUsers pages through users in creation order (ties broken by id).
// store.ErrNotFound if opts.After names no user, so that a deleted cursor
// is not mistaken for the end of the list.
func (db *DB) ListUsers(ctx context.Context, opts store.ListUsersOptions) ([]store.User, error) {
	limit := opts.PageSize()
	query, args := store.ListUsersSQL, []any{limit}
	if opts.After != "" {
		after, ok := store.CanonicalID(opts.After)
		if !ok {
			return nil, wrap("list users", store.ErrNotFound)
		}
		var created pgtype.Timestamptz
		err := db.pool.QueryRow(ctx, store.UserCreatedSQL, after).Scan(&created)
		if err != nil {
			return nil, wrap("list users", err)
		}
		query, args = store.ListUsersAfterSQL, []any{created, after, limit}
	}
	users, err := queryAll(ctx, db.pool, scanUser, query, args...)
	return store.Saved(users, finish("list users", err))
}

// UpdateUser applies fn to the user, locked with FOR UPDATE, and saves the
// result; see store.Store. Changing the id is an error.
func (db *DB) UpdateUser(ctx context.Context, id string, fn func(*store.User) error) (store.User, error) {
	id, ok := store.CanonicalID(id)
	if !ok {
		return store.User{}, wrap("update user", store.ErrNotFound)
	}
	var saved store.User
	err := db.inTx(ctx, func(tx pgx.Tx) (err error) {
		saved, err = store.Edit(func() (store.User, error) { return lockUser(ctx, tx, id) }, fn,
			func(u store.User) (store.User, error) { return saveUser(ctx, tx, id, u) })
		return err
	})
	return store.Saved(saved, finish("update user", err))
}

// lockUser reads the user with id (canonical) in tx and locks its row
// (FOR UPDATE) until tx ends, for a caller's func to change and saveUser
// to save.
func lockUser(ctx context.Context, tx pgx.Tx, id string) (store.User, error) {
	return scanUser(tx.QueryRow(ctx, store.GetUserSQL+` FOR UPDATE`, id))
}

// saveUser saves u, the user with id (canonical) as a caller's func left
// it, in tx, and returns it as stored: every column but the id, which must
// not have changed. store.ErrAlreadyExists (through wrap) if the new email
// is taken.
func saveUser(ctx context.Context, tx pgx.Tx, id string, u store.User) (store.User, error) {
	args, err := codec.SaveUserArgs(id, u)
	if err != nil {
		return store.User{}, err
	}
	return scanUser(tx.QueryRow(ctx, store.UpdateUserSQL, args...))
}

// DeleteUser removes the user; the schema's cascades remove its sessions,
// their refresh tokens, its one-time tokens and its identities in the
// same statement. Its
// audit events and queued mail stay: they reference nothing.
// store.ErrNotFound if there is no such user.
func (db *DB) DeleteUser(ctx context.Context, id string) error {
	id, ok := store.CanonicalID(id)
	if !ok {
		return wrap("delete user", store.ErrNotFound)
	}
	tag, err := db.pool.Exec(ctx, store.DeleteUserSQL, id)
	if err != nil {
		return wrap("delete user", err)
	}
	if tag.RowsAffected() == 0 {
		return wrap("delete user", store.ErrNotFound)
	}
	return nil
}
