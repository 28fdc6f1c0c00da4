// Package sqlite is the store.Store backend on an embedded SQLite file,
// through the cgo-free modernc.org/sqlite driver, so that latch stays one
// static binary.
//
// It owns the SQLite schema (the embedded migrations in migrations/), the
// connection pragmas and the mapping of SQLite result codes onto the store
// sentinel errors. It must not hold domain rules (expiry, rotation,
// re-use): it stores what callers give it and answers the conformance suite
// in storetest, nothing more. Open never changes the schema; only Migrate
// does.
package sqlite
