package postgres

import (
	"context"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/latchauth/latch/internal/store"
)

// updateThrottleSQL saves a locked throttle row; arguments:
// codec.ThrottleArgs.
const updateThrottleSQL = `UPDATE throttles
	SET failures = $2, last_failure_at = $3, blocked_until = $4
	WHERE key = $1 RETURNING ` + store.ThrottleColumns

// GetThrottles returns the rows that exist for the keys, in no order.
func (db *DB) GetThrottles(ctx context.Context, keys []string) ([]store.Throttle, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	ths, err := queryAll(ctx, db.pool, codec.ScanThrottle, `SELECT `+store.ThrottleColumns+` FROM throttles WHERE key = ANY($1)`, keys)
	return store.Saved(ths, finish("get throttles", err))
}

// UpdateThrottle applies fn to the row for key, creating it if missing (fn
// then sees a zero Throttle with Key set), and saves the result. The key
// cannot change.
//
// One statement creates the row empty if missing and locks it either
// way: two callers on a new key cannot both insert it (the second waits
// for the first transaction and then takes the update path), and both
// then queue on the row lock, so no increment is lost. A no-op DO UPDATE,
// not DO NOTHING and a separate SELECT ... FOR UPDATE: between those two
// statements DeleteThrottlesBefore could delete the row, and the SELECT
// would find nothing; PostgreSQL guarantees that an upsert either inserts
// or updates. If fn fails, the rollback takes the empty row away again.
func (db *DB) UpdateThrottle(ctx context.Context, key string, fn func(*store.Throttle) error) (store.Throttle, error) {
	var saved store.Throttle
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		th, err := codec.ScanThrottle(tx.QueryRow(ctx, `INSERT INTO throttles (key) VALUES ($1)
			ON CONFLICT (key) DO UPDATE SET key = excluded.key
			RETURNING `+store.ThrottleColumns, key))
		if err != nil {
			return err
		}
		saved, err = store.EditThrottle(key, th, fn, lockedThrottles{ctx, tx}.save)
		return err
	})
	return store.Saved(saved, finish("update throttle", err))
}

// UpdateThrottles applies fn to the rows for keys, created if missing and
// locked, and saves the result, deleting the rows fn leaves zero; see
// store.Store. The rows are created and locked by one upsert in key
// order, so two callers with overlapping keys take their locks in the
// same order and cannot deadlock; the upsert either inserts or locks, as
// in UpdateThrottle.
func (db *DB) UpdateThrottles(ctx context.Context, keys []string, fn func([]store.Throttle) error) ([]store.Throttle, error) {
	if err := store.DistinctKeys(keys); err != nil {
		return nil, wrap("update throttles", err)
	}
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	var saved []store.Throttle
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		locked, err := queryAll(ctx, tx, codec.ScanThrottle, `INSERT INTO throttles (key) SELECT k FROM unnest($1::text[]) AS k ORDER BY k
			ON CONFLICT (key) DO UPDATE SET key = excluded.key
			RETURNING `+store.ThrottleColumns, sorted)
		if err != nil {
			return err
		}
		byKey := make(map[string]store.Throttle, len(locked))
		for _, th := range locked {
			byKey[th.Key] = th
		}
		ths := make([]store.Throttle, len(keys))
		for i, k := range keys {
			ths[i] = byKey[k]
			ths[i].Key = k
		}
		l := lockedThrottles{ctx, tx}
		saved, err = store.EditThrottles(keys, ths, fn, l.save, l.remove)
		return err
	})
	return store.Saved(saved, finish("update throttles", err))
}

// lockedThrottles saves and removes throttle rows that the transaction tx
// has locked, for store.EditThrottle and store.EditThrottles.
type lockedThrottles struct {
	ctx context.Context
	tx  pgx.Tx
}

// save writes th's row and returns it as saved.
func (l lockedThrottles) save(th store.Throttle) (store.Throttle, error) {
	return codec.ScanThrottle(l.tx.QueryRow(l.ctx, updateThrottleSQL, codec.ThrottleArgs(th)...))
}

// remove deletes key's row.
func (l lockedThrottles) remove(key string) error {
	_, err := l.tx.Exec(l.ctx, `DELETE FROM throttles WHERE key = $1`, key)
	return err
}

// DeleteThrottles removes the rows for the keys; missing keys are fine.
func (db *DB) DeleteThrottles(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	// Locked in key order, the order UpdateThrottles takes them in, so
	// that the two cannot deadlock.
	if _, err := db.pool.Exec(ctx, `DELETE FROM throttles WHERE key IN (
		SELECT key FROM throttles WHERE key = ANY($1) ORDER BY key FOR UPDATE)`, keys); err != nil {
		return wrap("delete throttles", err)
	}
	return nil
}
