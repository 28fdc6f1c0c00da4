package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/latchauth/latch/internal/store"
)

const keyColumns = `id, algorithm, state, sealed_key, public_key,
	created_at, activated_at, deactivate_at, retire_at`

func scanKey(row pgx.Row) (store.SigningKey, error) {
	var (
		k                                      store.SigningKey
		state                                  string
		created, activated, deactivate, retire pgtype.Timestamptz
	)
	err := row.Scan(&k.ID, &k.Algorithm, &state, &k.SealedKey, &k.PublicKey,
		&created, &activated, &deactivate, &retire)
	if err != nil {
		return store.SigningKey{}, err
	}
	k.State = store.KeyState(state)
	if len(k.SealedKey) == 0 {
		k.SealedKey = nil
	}
	if len(k.PublicKey) == 0 {
		k.PublicKey = nil
	}
	k.CreatedAt = fromTS(created)
	k.ActivatedAt = fromTS(activated)
	k.DeactivateAt = fromTS(deactivate)
	k.RetireAt = fromTS(retire)
	return k, nil
}

func listKeys(ctx context.Context, q querier) ([]store.SigningKey, error) {
	return queryAll(ctx, q, scanKey, `SELECT `+keyColumns+` FROM signing_keys ORDER BY created_at, id`)
}

// ListSigningKeys returns every key, oldest first.
func (db *DB) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	keys, err := listKeys(ctx, db.pool)
	if err != nil {
		return nil, wrap("list signing keys", err)
	}
	return keys, nil
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
			_, err := tx.Exec(ctx, `INSERT INTO signing_keys (`+keyColumns+`)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
				ON CONFLICT (id) DO UPDATE SET
					algorithm = excluded.algorithm, state = excluded.state,
					sealed_key = excluded.sealed_key, public_key = excluded.public_key,
					created_at = excluded.created_at, activated_at = excluded.activated_at,
					deactivate_at = excluded.deactivate_at, retire_at = excluded.retire_at`,
				k.ID, k.Algorithm, string(k.State), k.SealedKey, k.PublicKey,
				k.CreatedAt, nullTime(k.ActivatedAt), nullTime(k.DeactivateAt), nullTime(k.RetireAt))
			if err != nil {
				return err
			}
		}
		return nil
	})
	return finish("update signing keys", err)
}
