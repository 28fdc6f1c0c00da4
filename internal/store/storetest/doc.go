// Package storetest is the one conformance suite for store.Store: every
// backend's tests call Run (and RunShared, RunUpgrade and BenchRotate) with
// a function that opens a fresh database, so that all backends are held to
// the same behaviour, down to nil slices, zero times and error sentinels.
//
// It owns the executable meaning of the store contract. It must not know
// any backend: anything that needs SQL (a fake migration row, a pragma)
// belongs in the backend's own tests. It is imported only from tests.
package storetest
