// Package postgres is the store.Store backend on PostgreSQL, through pgx's
// connection pool, for deployments where several stateless latch instances
// share one database.
//
// It owns the PostgreSQL schema (the embedded migrations in migrations/),
// the locking that makes the read-modify-write methods safe across
// processes (row locks, a table lock for signing keys, goose's advisory
// lock for migrations), and the mapping of PostgreSQL errors onto the store
// sentinel errors. It must not hold domain rules (expiry, rotation,
// re-use): it stores what callers give it and answers the conformance
// suite in storetest, nothing more. Open never changes the schema; only
// Migrate does.
package postgres
