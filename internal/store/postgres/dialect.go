package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/latchauth/latch/internal/store"
	"github.com/latchauth/latch/internal/store/sqlstore"
)

// dialect is the DB as the sqlstore.Driver of the roles both backends
// share: statements on the pool or in a READ COMMITTED transaction, rows
// locked with the clauses sqlstore asks for.
type dialect DB

var (
	_ sqlstore.Driver    = (*dialect)(nil)
	_ sqlstore.KeyLocker = (*dialect)(nil)
)

func (d *dialect) Read() sqlstore.Querier  { return conn{d.pool} }
func (d *dialect) Write() sqlstore.Querier { return conn{d.pool} }

func (d *dialect) InTx(ctx context.Context, fn func(tx sqlstore.Querier) error) error {
	return (*DB)(d).inTx(ctx, func(tx pgx.Tx) error { return fn(conn{tx}) })
}

func (d *dialect) RowLocks() bool                  { return true }
func (d *dialect) Wrap(op string, err error) error { return wrap(op, err) }
func (d *dialect) IsForeignKey(err error) bool     { return pgCode(err) == codeForeignKeyViolation }

// DeleteBatchSQL picks the batch's rows with FOR UPDATE SKIP LOCKED: a
// row that a refresh or a failed login holds right now is left for the
// next clean-up instead of making this one wait, and instances cleaning
// up at once share the rows out instead of queueing on the same ones.
// Under READ COMMITTED the lock re-checks the WHERE clause on the row's
// latest version, so a session refreshed since the statement began is
// not deleted for an idleness it no longer has.
func (d *dialect) DeleteBatchSQL(table, key, where string, limit int) string {
	return fmt.Sprintf(`DELETE FROM %[1]s WHERE %[2]s IN (
		SELECT %[2]s FROM %[1]s WHERE %[3]s
		LIMIT $%[4]d FOR UPDATE SKIP LOCKED)`, table, key, where, limit)
}

// CleanupBatch is the package constant, or what a test lowered it to.
func (d *dialect) CleanupBatch() int { return d.cleanupBatch }

// LockKeysSQL: row locks cannot exclude a caller that would insert the
// first key, so UpdateSigningKeys locks the whole table in EXCLUSIVE
// mode: it waits for, and blocks, any other UpdateSigningKeys on the
// database, from any process, while plain reads (ListSigningKeys) go on.
// Being a table lock, it is also scoped to the schema, unlike an advisory
// lock number.
func (d *dialect) LockKeysSQL() string { return `LOCK TABLE signing_keys IN EXCLUSIVE MODE` }

// pgxQuerier is a pool or a transaction.
type pgxQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// conn is a pool or a transaction as a sqlstore.Querier.
type conn struct{ q pgxQuerier }

func (q conn) QueryRow(ctx context.Context, query string, args ...any) store.Scanner {
	return q.q.QueryRow(ctx, query, args...)
}

func (q conn) Query(ctx context.Context, query string, args []any, row func(store.Scanner) error) error {
	rows, err := q.q.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return sqlstore.EachRow(rows, row)
}

func (q conn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := q.q.Exec(ctx, query, args...)
	return tag.RowsAffected(), err
}
