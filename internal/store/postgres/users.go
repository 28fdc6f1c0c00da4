package postgres

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/latchauth/latch/internal/store"
)

const userColumns = `id, email, email_verified, password_hash, metadata, disabled,
	created_at, updated_at, last_sign_in_at, password_changed_at, credential_epoch`

// userColumnsOf is userColumns qualified with the alias u, for joins.
const userColumnsOf = `u.id, u.email, u.email_verified, u.password_hash, u.metadata, u.disabled,
	u.created_at, u.updated_at, u.last_sign_in_at, u.password_changed_at, u.credential_epoch`

// userRow receives the columns of userColumns, in order, from a Scan.
type userRow struct {
	u                                 store.User
	metadata                          []byte
	created, updated, signIn, pwdChgd pgtype.Timestamptz
}

func (r *userRow) dest() []any {
	return []any{&r.u.ID, &r.u.Email, &r.u.EmailVerified, &r.u.PasswordHash, &r.metadata, &r.u.Disabled,
		&r.created, &r.updated, &r.signIn, &r.pwdChgd, &r.u.CredentialEpoch}
}

// user decodes the scanned columns.
func (r *userRow) user() store.User {
	u := r.u
	u.Metadata = json.RawMessage(r.metadata)
	u.CreatedAt = fromTS(r.created)
	u.UpdatedAt = fromTS(r.updated)
	u.LastSignInAt = fromTS(r.signIn)
	u.PasswordChangedAt = fromTS(r.pwdChgd)
	return u
}

func scanUser(row pgx.Row) (store.User, error) {
	var r userRow
	if err := row.Scan(r.dest()...); err != nil {
		return store.User{}, err
	}
	return r.user(), nil
}

// insertUserSQL inserts a user; its arguments are those of userArgs.
const insertUserSQL = `INSERT INTO users (` + userColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`

// userArgs checks u and returns the arguments of insertUserSQL. u.ID must
// be a UUID; it is stored in canonical form. jsonb normalises the
// metadata: it comes back as equal JSON, not byte for byte.
func userArgs(u store.User) ([]any, error) {
	id, ok := store.CanonicalID(u.ID)
	if !ok {
		return nil, store.ErrInvalidID
	}
	metadata, err := store.UserMetadata(u.Metadata)
	if err != nil {
		return nil, err
	}
	return []any{id, u.Email, u.EmailVerified, u.PasswordHash, metadata, u.Disabled,
		u.CreatedAt, u.UpdatedAt, nullTime(u.LastSignInAt), nullTime(u.PasswordChangedAt), u.CredentialEpoch}, nil
}

// CreateUser inserts u; store.ErrAlreadyExists if its id or email is
// taken. u.ID must be a UUID.
func (db *DB) CreateUser(ctx context.Context, u store.User) error {
	args, err := userArgs(u)
	if err != nil {
		return wrap("create user", err)
	}
	if _, err := db.pool.Exec(ctx, insertUserSQL, args...); err != nil {
		return wrap("create user", err)
	}
	return nil
}

// CreateUserWithSession inserts u, then s and its refresh token, in one
// transaction: store.ErrAlreadyExists, and nothing written, if the user's
// id or email, or the session's id or refresh hash, is taken. s.UserID must
// name u.
func (db *DB) CreateUserWithSession(ctx context.Context, u store.User, s store.Session) error {
	args, err := userArgs(u)
	if err != nil {
		return wrap("create user with session", err)
	}
	ns, err := s.Canonical()
	if err != nil {
		return wrap("create user with session", err)
	}
	if id, _ := store.CanonicalID(u.ID); ns.UserID != id {
		return wrap("create user with session", errors.New("the session's user id is not the user's"))
	}
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, insertUserSQL, args...); err != nil {
			return err
		}
		return insertSession(ctx, tx, ns)
	})
	return finish("create user with session", err)
}

// GetUser returns the user with this id; store.ErrNotFound if none.
func (db *DB) GetUser(ctx context.Context, id string) (store.User, error) {
	id, ok := store.CanonicalID(id)
	if !ok {
		return store.User{}, wrap("get user", store.ErrNotFound)
	}
	u, err := scanUser(db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	if err != nil {
		return store.User{}, wrap("get user", err)
	}
	return u, nil
}

// GetUserByEmail returns the user with this (already normalised) email;
// store.ErrNotFound if none.
func (db *DB) GetUserByEmail(ctx context.Context, email string) (store.User, error) {
	u, err := scanUser(db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email = $1`, email))
	if err != nil {
		return store.User{}, wrap("get user by email", err)
	}
	return u, nil
}

// ListUsers pages through users in creation order (ties broken by id).
// store.ErrNotFound if opts.After names no user, so that a deleted cursor
// is not mistaken for the end of the list.
func (db *DB) ListUsers(ctx context.Context, opts store.ListUsersOptions) ([]store.User, error) {
	limit := opts.PageSize()
	query, args := `SELECT `+userColumns+` FROM users
		ORDER BY created_at, id LIMIT $1`, []any{limit}
	if opts.After != "" {
		after, ok := store.CanonicalID(opts.After)
		if !ok {
			return nil, wrap("list users", store.ErrNotFound)
		}
		var created pgtype.Timestamptz
		err := db.pool.QueryRow(ctx, `SELECT created_at FROM users WHERE id = $1`, after).Scan(&created)
		if err != nil {
			return nil, wrap("list users", err)
		}
		query, args = `SELECT `+userColumns+` FROM users
			WHERE (created_at, id) > ($1, $2)
			ORDER BY created_at, id LIMIT $3`, []any{created, after, limit}
	}
	users, err := queryAll(ctx, db.pool, scanUser, query, args...)
	if err != nil {
		return nil, wrap("list users", err)
	}
	return users, nil
}

// UpdateUser applies fn to the user, locked with FOR UPDATE, and saves the
// result; see store.Store. Changing the id is an error.
func (db *DB) UpdateUser(ctx context.Context, id string, fn func(*store.User) error) (store.User, error) {
	id, ok := store.CanonicalID(id)
	if !ok {
		return store.User{}, wrap("update user", store.ErrNotFound)
	}
	var saved store.User
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		u, err := lockUser(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := fn(&u); err != nil {
			return store.CallerError{Err: err}
		}
		saved, err = saveUser(ctx, tx, id, u)
		return err
	})
	if err != nil {
		return store.User{}, finish("update user", err)
	}
	return saved, nil
}

// lockUser reads the user with id (canonical) in tx and locks its row
// (FOR UPDATE) until tx ends, for a caller's func to change and saveUser
// to save.
func lockUser(ctx context.Context, tx pgx.Tx, id string) (store.User, error) {
	return scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1 FOR UPDATE`, id))
}

// saveUser saves u, the user with id (canonical) as a caller's func left
// it, in tx, and returns it as stored: every column but the id, which must
// not have changed. store.ErrAlreadyExists (through wrap) if the new email
// is taken.
func saveUser(ctx context.Context, tx pgx.Tx, id string, u store.User) (store.User, error) {
	if u.ID != id {
		return store.User{}, errors.New("the id cannot change")
	}
	metadata, err := store.UserMetadata(u.Metadata)
	if err != nil {
		return store.User{}, err
	}
	return scanUser(tx.QueryRow(ctx, `UPDATE users SET
		email = $2, email_verified = $3, password_hash = $4, metadata = $5, disabled = $6,
		created_at = $7, updated_at = $8, last_sign_in_at = $9, password_changed_at = $10,
		credential_epoch = $11
		WHERE id = $1 RETURNING `+userColumns,
		id, u.Email, u.EmailVerified, u.PasswordHash, metadata, u.Disabled,
		u.CreatedAt, u.UpdatedAt, nullTime(u.LastSignInAt), nullTime(u.PasswordChangedAt),
		u.CredentialEpoch))
}

// DeleteUser removes the user; the schema's cascades remove its sessions,
// their refresh tokens and its one-time tokens in the same statement. Its
// audit events and queued mail stay: they reference nothing.
// store.ErrNotFound if there is no such user.
func (db *DB) DeleteUser(ctx context.Context, id string) error {
	id, ok := store.CanonicalID(id)
	if !ok {
		return wrap("delete user", store.ErrNotFound)
	}
	tag, err := db.pool.Exec(ctx, `DELETE FROM users WHERE id = $1`, id)
	if err != nil {
		return wrap("delete user", err)
	}
	if tag.RowsAffected() == 0 {
		return wrap("delete user", store.ErrNotFound)
	}
	return nil
}
