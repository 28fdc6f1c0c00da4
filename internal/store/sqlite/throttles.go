package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/latchauth/latch/internal/store"
)

// keyList passes a list of keys as one JSON parameter that json_each
// expands, so that the statement text does not depend on how many keys
// there are and no key is ever spliced into SQL.
func keyList(keys []string) (string, error) {
	b, err := json.Marshal(keys)
	return string(b), err
}

// GetThrottles returns the rows that exist for the keys, in no order.
func (db *DB) GetThrottles(ctx context.Context, keys []string) ([]store.Throttle, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	list, err := keyList(keys)
	if err != nil {
		return nil, wrap("get throttles", err)
	}
	st, err := db.stmts(ctx)
	if err != nil {
		return nil, wrap("get throttles", err)
	}
	rows, err := st.getThrottles.QueryContext(ctx, list)
	if err != nil {
		return nil, wrap("get throttles", err)
	}
	out, err := scanAll(rows, codec.ScanThrottle)
	return store.Saved(out, finish("get throttles", err))
}

// UpdateThrottle applies fn to the row for key under the write lock,
// creating it if missing (fn then sees a zero Throttle with Key set), and
// saves the result. The key cannot change.
func (db *DB) UpdateThrottle(ctx context.Context, key string, fn func(*store.Throttle) error) (store.Throttle, error) {
	st, err := db.stmts(ctx)
	if err != nil {
		return store.Throttle{}, wrap("update throttle", err)
	}
	var saved store.Throttle
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		l := lockedThrottles{ctx, tx, st}
		th, err := l.load(key)
		if err != nil {
			return err
		}
		saved, err = store.EditThrottle(key, th, fn, l.save)
		return err
	})
	return store.Saved(saved, finish("update throttle", err))
}

// UpdateThrottles applies fn to the rows for keys under the write lock,
// creating missing ones as zero Throttles, and saves the result, deleting
// the rows fn leaves zero; see store.Store.
func (db *DB) UpdateThrottles(ctx context.Context, keys []string, fn func([]store.Throttle) error) ([]store.Throttle, error) {
	st, err := db.stmts(ctx)
	if err != nil {
		return nil, wrap("update throttles", err)
	}
	if err := store.DistinctKeys(keys); err != nil {
		return nil, wrap("update throttles", err)
	}
	var saved []store.Throttle
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		l := lockedThrottles{ctx, tx, st}
		rows := make([]store.Throttle, len(keys))
		for i, key := range keys {
			th, err := l.load(key)
			if err != nil {
				return err
			}
			rows[i] = th
		}
		saved, err = store.EditThrottles(keys, rows, fn, l.save, l.remove)
		return err
	})
	return store.Saved(saved, finish("update throttles", err))
}

// lockedThrottles reads, saves and removes throttle rows in the
// transaction tx, which holds the write lock, with the prepared
// statements st.
type lockedThrottles struct {
	ctx context.Context
	tx  *sql.Tx
	st  *statements
}

// load returns key's row, or a zero Throttle with Key set if there is
// none.
func (l lockedThrottles) load(key string) (store.Throttle, error) {
	th, err := codec.ScanThrottle(l.tx.StmtContext(l.ctx, l.st.selectThrottle).QueryRowContext(l.ctx, key))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Throttle{Key: key}, nil
	}
	return th, err
}

// save writes th's row and returns it as saved.
func (l lockedThrottles) save(th store.Throttle) (store.Throttle, error) {
	return codec.ScanThrottle(l.tx.StmtContext(l.ctx, l.st.upsertThrottle).QueryRowContext(l.ctx, codec.ThrottleArgs(th)...))
}

// remove deletes key's row.
func (l lockedThrottles) remove(key string) error {
	_, err := l.tx.ExecContext(l.ctx, `DELETE FROM throttles WHERE key = ?`, key)
	return err
}

// DeleteThrottles removes the rows for the keys; missing keys are fine.
func (db *DB) DeleteThrottles(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	list, err := keyList(keys)
	if err != nil {
		return wrap("delete throttles", err)
	}
	_, err = db.execWrite(ctx, `DELETE FROM throttles WHERE key IN (SELECT value FROM json_each(?))`, list)
	if err != nil {
		return wrap("delete throttles", err)
	}
	return nil
}
