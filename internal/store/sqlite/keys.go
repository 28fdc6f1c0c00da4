package sqlite

import (
	"context"
	"database/sql"

	"github.com/latchauth/latch/internal/store"
)

func scanKey(row scanner) (store.SigningKey, error) { return store.ScanKey(codec, row) }

func listKeys(ctx context.Context, q querier) ([]store.SigningKey, error) {
	return queryAll(ctx, q, scanKey, store.ListKeysSQL)
}

// ListSigningKeys returns every key, oldest first.
func (db *DB) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	keys, err := listKeys(ctx, db.read)
	return store.Saved(keys, finish("list signing keys", err))
}

// UpdateSigningKeys runs fn with every key and upserts (by id) the keys it
// returns; keys it leaves out are kept as they are. The BEGIN IMMEDIATE
// transaction holds SQLite's one write lock from before the read until the
// commit, which excludes every other writer, in this process or another.
func (db *DB) UpdateSigningKeys(ctx context.Context, fn func(keys []store.SigningKey) ([]store.SigningKey, error)) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		keys, err := listKeys(ctx, tx)
		if err != nil {
			return err
		}
		changed, err := fn(keys)
		if err != nil {
			return store.CallerError{Err: err}
		}
		for _, k := range changed {
			_, err := tx.ExecContext(ctx, store.UpsertKeySQL, codec.KeyArgs(k)...)
			if err != nil {
				return err
			}
		}
		return nil
	})
	return finish("update signing keys", err)
}
