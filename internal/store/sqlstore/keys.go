package sqlstore

import (
	"context"

	"github.com/latchauth/latch/internal/store"
)

func (s Store[T]) listKeys(ctx context.Context, q Querier) ([]store.SigningKey, error) {
	return queryAll(ctx, q, s.c.ScanKey, store.ListKeysSQL)
}

// ListSigningKeys returns every key, oldest first.
func (s Store[T]) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	keys, err := s.listKeys(ctx, s.d.Read())
	return store.Saved(keys, s.finish("list signing keys", err))
}

// UpdateSigningKeys runs fn with every key and upserts (by id) the keys it
// returns; keys it leaves out are kept as they are. The transaction
// excludes every other UpdateSigningKeys on the database, in this process
// or another: SQLite's BEGIN IMMEDIATE holds its one write lock from
// before the read until the commit; on PostgreSQL the driver's
// KeyLocker statement locks the table.
func (s Store[T]) UpdateSigningKeys(ctx context.Context, fn func(keys []store.SigningKey) ([]store.SigningKey, error)) error {
	err := s.d.InTx(ctx, func(tx Querier) error {
		if l, ok := s.d.(KeyLocker); ok {
			if _, err := tx.Exec(ctx, l.LockKeysSQL()); err != nil {
				return err
			}
		}
		keys, err := s.listKeys(ctx, tx)
		if err != nil {
			return err
		}
		changed, err := fn(keys)
		if err != nil {
			return store.CallerError{Err: err}
		}
		for _, k := range changed {
			if _, err := tx.Exec(ctx, store.UpsertKeySQL, s.c.KeyArgs(k)...); err != nil {
				return err
			}
		}
		return nil
	})
	return s.finish("update signing keys", err)
}
