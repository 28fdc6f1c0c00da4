package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/latchauth/latch/internal/store"
)

const codeColumns = `hash, user_id, session_id, redirect_uri, challenge, created_at, expires_at, used_at, issued_id`

func scanCode(row pgx.Row) (store.AuthCode, error) {
	var (
		c                      store.AuthCode
		created, expires, used pgtype.Timestamptz
	)
	if err := row.Scan(&c.Hash, &c.UserID, &c.SessionID, &c.RedirectURI, &c.Challenge, &created, &expires, &used, &c.IssuedID); err != nil {
		return store.AuthCode{}, err
	}
	c.CreatedAt, c.ExpiresAt, c.UsedAt = fromTS(created), fromTS(expires), fromTS(used)
	return c, nil
}

// CreateAuthCode inserts c; see store.AuthCodes. store.ErrNotFound if its
// user does not exist.
func (db *DB) CreateAuthCode(ctx context.Context, c store.AuthCode) error {
	c, err := c.Checked()
	if err != nil {
		return wrap("create authorization code", err)
	}
	_, err = db.pool.Exec(ctx, `INSERT INTO authorization_codes (`+codeColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, '')`,
		c.Hash, c.UserID, c.SessionID, c.RedirectURI, c.Challenge, c.CreatedAt, c.ExpiresAt)
	if pgCode(err) == codeForeignKeyViolation {
		return wrap("create authorization code", store.ErrNotFound)
	}
	if err != nil {
		return wrap("create authorization code", err)
	}
	return nil
}

// GetAuthCode returns the code with this hash; see store.AuthCodes.
func (db *DB) GetAuthCode(ctx context.Context, hash []byte) (store.AuthCode, error) {
	c, err := scanCode(db.pool.QueryRow(ctx, `SELECT `+codeColumns+` FROM authorization_codes WHERE hash = $1`, hash))
	if err != nil {
		return store.AuthCode{}, wrap("get authorization code", err)
	}
	return c, nil
}

// RedeemAuthCode marks the code used and creates s in one transaction;
// see store.AuthCodes. The UPDATE's condition is checked again on the
// locked row, so of concurrent redemptions exactly one changes it.
func (db *DB) RedeemAuthCode(ctx context.Context, hash []byte, s store.Session) (store.AuthCode, error) {
	ns, err := s.Canonical()
	if err != nil {
		return store.AuthCode{}, wrap("redeem authorization code", err)
	}
	var out store.AuthCode
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		c, err := scanCode(tx.QueryRow(ctx, `UPDATE authorization_codes SET used_at = $1, issued_id = $2
			WHERE hash = $3 AND used_at IS NULL RETURNING `+codeColumns, ns.CreatedAt, ns.ID, hash))
		if errors.Is(err, pgx.ErrNoRows) {
			// Used already, or unknown (ErrNotFound).
			out, err = scanCode(tx.QueryRow(ctx, `SELECT `+codeColumns+` FROM authorization_codes WHERE hash = $1`, hash))
			return err
		}
		if err != nil {
			return err
		}
		c.UsedAt, c.IssuedID = time.Time{}, ""
		out = c
		return insertSession(ctx, tx, ns)
	})
	if err != nil {
		return store.AuthCode{}, finish("redeem authorization code", err)
	}
	return out, nil
}

// DeleteAuthCodesBefore removes expired codes; see store.AuthCodes.
func (db *DB) DeleteAuthCodesBefore(ctx context.Context, t time.Time) (int64, error) {
	return db.deleteBefore(ctx, "delete authorization codes before", `DELETE FROM authorization_codes WHERE hash IN (
		SELECT hash FROM authorization_codes WHERE expires_at < $1
		LIMIT $2 FOR UPDATE SKIP LOCKED)`, t)
}
