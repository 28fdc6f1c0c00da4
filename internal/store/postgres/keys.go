package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/latchauth/latch/internal/store"
)

func scanKey(row pgx.Row) (store.SigningKey, error) { return store.ScanKey(codec, row) }

func listKeys(ctx context.Context, q querier) ([]store.SigningKey, error) {
	return queryAll(ctx, q, scanKey, store.ListKeysSQL)
}

// ListSigningKeys returns every key, oldest first.
func (db *DB) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	keys, err := listKeys(ctx, db.pool)
	return store.Saved(keys, finish("list signing keys", err))
}

// UpdateSigningKeys runs fn with every key and upserts (by id) the keys it
// returns; keys it leaves out are kept as they are.
//
// Row locks cannot exclude a caller that would insert the first key, so
// the transaction locks the whole table in EXCLUSIVE mode: it waits for,
// and blocks, any other UpdateSigningKeys on the database, from any
// process, while plain reads (ListSigningKeys) go on. Being a table lock,
// it is also scoped to the schema, unlike an advisory lock number.
func (db *DB) UpdateSigningKeys(ctx context.Context, fn func(keys []store.SigningKey) ([]store.SigningKey, error)) error {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE signing_keys IN EXCLUSIVE MODE`); err != nil {
			return err
		}
		keys, err := listKeys(ctx, tx)
		if err != nil {
			return err
		}
		changed, err := fn(keys)
		if err != nil {
			return store.CallerError{Err: err}
		}
		for _, k := range changed {
			_, err := tx.Exec(ctx, store.UpsertKeySQL, codec.KeyArgs(k)...)
			if err != nil {
				return err
			}
		}
		return nil
	})
	return finish("update signing keys", err)
}
