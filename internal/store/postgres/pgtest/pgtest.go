package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the environment variable that points the tests at a
// PostgreSQL database, e.g.
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable. The role needs
// the right to create schemas in it.
const EnvURL = "LATCH_TEST_POSTGRES_URL"

// URL returns a connection URL for a new, empty schema in the database
// that LATCH_TEST_POSTGRES_URL names, with search_path set to that schema
// so that everything a store creates, goose's version table included,
// lands in it. The schema is dropped (CASCADE) when tb ends; close what
// uses it before then (an earlier t.Cleanup runs later, so open the store
// after calling URL). URL skips tb when the variable is unset.
func URL(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		tb.Skip(EnvURL + " not set; skipping PostgreSQL test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("pgtest: connect to %s: %v", EnvURL, err)
	}
	defer conn.Close(ctx)

	var b [8]byte
	rand.Read(b[:])
	schema := "latch_test_" + hex.EncodeToString(b[:])
	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+ident); err != nil {
		tb.Fatalf("pgtest: create schema: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			tb.Errorf("pgtest: connect to drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+ident+" CASCADE"); err != nil {
			tb.Errorf("pgtest: drop schema %s: %v", schema, err)
		}
	})
	u, err := withSearchPath(base, schema)
	if err != nil {
		// Not err: it quotes the URL, password included.
		tb.Fatalf("pgtest: %s is not a valid URL", EnvURL)
	}
	return u
}

// withSearchPath adds search_path to a connection string in either of the
// forms pgx accepts; pgx sends unknown URL parameters to the server as
// run-time parameters, so every connection starts in the schema.
func withSearchPath(conn, schema string) (string, error) {
	if strings.HasPrefix(conn, "postgres://") || strings.HasPrefix(conn, "postgresql://") {
		u, err := url.Parse(conn)
		if err != nil {
			return "", err
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	return conn + " search_path=" + schema, nil
}
