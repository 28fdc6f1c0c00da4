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
		th, err := codec.ScanThrottle(tx.StmtContext(ctx, st.selectThrottle).QueryRowContext(ctx, key))
		if errors.Is(err, sql.ErrNoRows) {
			th, err = store.Throttle{Key: key}, nil
		}
		if err != nil {
			return err
		}
		saved, err = store.EditThrottle(key, th, fn, func(th store.Throttle) (store.Throttle, error) {
			return codec.ScanThrottle(tx.StmtContext(ctx, st.upsertThrottle).QueryRowContext(ctx, codec.ThrottleArgs(th)...))
		})
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
		rows := make([]store.Throttle, len(keys))
		for i, key := range keys {
			th, err := codec.ScanThrottle(tx.StmtContext(ctx, st.selectThrottle).QueryRowContext(ctx, key))
			if errors.Is(err, sql.ErrNoRows) {
				th, err = store.Throttle{Key: key}, nil
			}
			if err != nil {
				return err
			}
			rows[i] = th
		}
		saved, err = store.EditThrottles(keys, rows, fn, func(th store.Throttle) (store.Throttle, error) {
			return codec.ScanThrottle(tx.StmtContext(ctx, st.upsertThrottle).QueryRowContext(ctx, codec.ThrottleArgs(th)...))
		}, func(key string) error {
			_, err := tx.ExecContext(ctx, `DELETE FROM throttles WHERE key = ?`, key)
			return err
		})
		return err
	})
	return store.Saved(saved, finish("update throttles", err))
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
