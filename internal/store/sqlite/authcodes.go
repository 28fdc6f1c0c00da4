package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/latchauth/latch/internal/store"
)

const codeColumns = `hash, user_id, session_id, redirect_uri, challenge, created_at, expires_at, used_at, issued_id`

func scanCode(row scanner) (store.AuthCode, error) {
	var (
		c                      store.AuthCode
		created, expires, used sql.NullInt64
	)
	if err := row.Scan(&c.Hash, &c.UserID, &c.SessionID, &c.RedirectURI, &c.Challenge, &created, &expires, &used, &c.IssuedID); err != nil {
		return store.AuthCode{}, err
	}
	c.CreatedAt, c.ExpiresAt, c.UsedAt = fromMicros(created), fromMicros(expires), fromMicros(used)
	return c, nil
}

// CreateAuthCode inserts c; see store.AuthCodes. store.ErrNotFound if its
// user does not exist.
func (db *DB) CreateAuthCode(ctx context.Context, c store.AuthCode) error {
	c, err := c.Checked()
	if err != nil {
		return wrap("create authorization code", err)
	}
	_, err = db.execWrite(ctx, `INSERT INTO authorization_codes (`+codeColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, NULL, '')`,
		c.Hash, c.UserID, c.SessionID, c.RedirectURI, c.Challenge, micros(c.CreatedAt), micros(c.ExpiresAt))
	if isCode(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) {
		return wrap("create authorization code", store.ErrNotFound)
	}
	if err != nil {
		return wrap("create authorization code", err)
	}
	return nil
}

// GetAuthCode returns the code with this hash; see store.AuthCodes.
func (db *DB) GetAuthCode(ctx context.Context, hash []byte) (store.AuthCode, error) {
	c, err := scanCode(db.read.QueryRowContext(ctx, `SELECT `+codeColumns+` FROM authorization_codes WHERE hash = ?`, hash))
	if err != nil {
		return store.AuthCode{}, wrap("get authorization code", err)
	}
	return c, nil
}

// RedeemAuthCode marks the code used and creates s in one transaction;
// see store.AuthCodes. SQLite's single writer decides a race: the
// UPDATE's condition sees every earlier redemption.
func (db *DB) RedeemAuthCode(ctx context.Context, hash []byte, s store.Session) (store.AuthCode, error) {
	ns, err := newSessionOf(s)
	if err != nil {
		return store.AuthCode{}, wrap("redeem authorization code", err)
	}
	st, err := db.stmts(ctx)
	if err != nil {
		return store.AuthCode{}, wrap("redeem authorization code", err)
	}
	var out store.AuthCode
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		c, err := scanCode(tx.QueryRowContext(ctx, `UPDATE authorization_codes SET used_at = ?, issued_id = ?
			WHERE hash = ? AND used_at IS NULL RETURNING `+codeColumns, micros(ns.s.CreatedAt), ns.s.ID, hash))
		if errors.Is(err, sql.ErrNoRows) {
			// Used already, or unknown (ErrNotFound).
			out, err = scanCode(tx.QueryRowContext(ctx, `SELECT `+codeColumns+` FROM authorization_codes WHERE hash = ?`, hash))
			return err
		}
		if err != nil {
			return err
		}
		c.UsedAt, c.IssuedID = time.Time{}, ""
		out = c
		return insertSession(ctx, tx, st, ns)
	})
	if err != nil {
		return store.AuthCode{}, finish("redeem authorization code", err)
	}
	return out, nil
}

// DeleteAuthCodesBefore removes expired codes; see store.AuthCodes.
func (db *DB) DeleteAuthCodesBefore(ctx context.Context, t time.Time) (int64, error) {
	return db.deleteBefore(ctx, "delete authorization codes before", `DELETE FROM authorization_codes WHERE rowid IN (
		SELECT rowid FROM authorization_codes WHERE expires_at < ? LIMIT ?)`, t)
}
