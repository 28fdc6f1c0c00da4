// Package pgtest gives tests a PostgreSQL database of their own: URL
// returns a connection URL whose search_path is a new, randomly named
// schema that is dropped when the test ends, so that test packages run in
// parallel against one server without seeing each other's rows.
//
// It owns nothing but that schema's life. It must not be imported outside
// tests, and must not migrate: callers open a store on the URL and call
// Migrate themselves.
package pgtest
