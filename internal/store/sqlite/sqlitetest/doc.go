// Package sqlitetest gives tests a SQLite database of their own: Open
// returns a store on a new file in the test's temporary directory,
// migrated, and closes it when the test ends.
//
// It owns nothing but that store's life. It must not be imported outside
// tests.
package sqlitetest
