package sqlite

import (
	"context"
	"database/sql"

	"github.com/latchauth/latch/internal/store"
)

const keyColumns = `id, algorithm, state, sealed_key, public_key,
	created_at, activated_at, deactivate_at, retire_at`

func scanKey(row scanner) (store.SigningKey, error) {
	var (
		k                                      store.SigningKey
		created, activated, deactivate, retire sql.NullInt64
	)
	err := row.Scan(&k.ID, &k.Algorithm, &k.State, &k.SealedKey, &k.PublicKey,
		&created, &activated, &deactivate, &retire)
	if err != nil {
		return store.SigningKey{}, err
	}
	k.SealedKey = nilIfEmpty(k.SealedKey)
	k.PublicKey = nilIfEmpty(k.PublicKey)
	k.CreatedAt = fromMicros(created)
	k.ActivatedAt = fromMicros(activated)
	k.DeactivateAt = fromMicros(deactivate)
	k.RetireAt = fromMicros(retire)
	return k, nil
}

func listKeys(ctx context.Context, q querier) ([]store.SigningKey, error) {
	return queryAll(ctx, q, scanKey, `SELECT `+keyColumns+` FROM signing_keys ORDER BY created_at, id`)
}

// ListSigningKeys returns every key, oldest first.
func (db *DB) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	keys, err := listKeys(ctx, db.read)
	if err != nil {
		return nil, wrap("list signing keys", err)
	}
	return keys, nil
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
			_, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (`+keyColumns+`)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (id) DO UPDATE SET
					algorithm = excluded.algorithm, state = excluded.state,
					sealed_key = excluded.sealed_key, public_key = excluded.public_key,
					created_at = excluded.created_at, activated_at = excluded.activated_at,
					deactivate_at = excluded.deactivate_at, retire_at = excluded.retire_at`,
				k.ID, k.Algorithm, string(k.State), k.SealedKey, k.PublicKey,
				micros(k.CreatedAt), nullMicros(k.ActivatedAt), nullMicros(k.DeactivateAt), nullMicros(k.RetireAt))
			if err != nil {
				return err
			}
		}
		return nil
	})
	return finish("update signing keys", err)
}
