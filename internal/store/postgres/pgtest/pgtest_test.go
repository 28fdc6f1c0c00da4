package pgtest

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestURL(t *testing.T) {
	var schema string
	t.Run("use", func(t *testing.T) {
		conn, err := pgx.Connect(t.Context(), URL(t))
		if err != nil {
			t.Fatalf("Connect: %v", err)
		}
		defer conn.Close(context.Background())
		if err := conn.QueryRow(t.Context(), `SELECT current_schema()`).Scan(&schema); err != nil {
			t.Fatalf("current_schema: %v", err)
		}
		if !strings.HasPrefix(schema, "latch_test_") {
			t.Errorf("current_schema() = %q, want a latch_test_ schema", schema)
		}
		// Unqualified names land in the schema; the drop must cascade.
		if _, err := conn.Exec(t.Context(), `CREATE TABLE t (x int)`); err != nil {
			t.Fatalf("CREATE TABLE: %v", err)
		}
	})
	if schema == "" {
		return // skipped or failed
	}
	conn, err := pgx.Connect(t.Context(), URL(t))
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	defer conn.Close(context.Background())
	var exists bool
	err = conn.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, schema).Scan(&exists)
	if err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("schema %s still exists after its test ended", schema)
	}
}

func TestWithSearchPath(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"postgres://u@h:5432/db?sslmode=disable", "postgres://u@h:5432/db?search_path=s&sslmode=disable"},
		{"postgresql://u@h/db", "postgresql://u@h/db?search_path=s"},
		{"postgres://u@h/db?search_path=public", "postgres://u@h/db?search_path=s"},
		{"host=h dbname=db", "host=h dbname=db search_path=s"},
	}
	for _, tt := range tests {
		got, err := withSearchPath(tt.in, "s")
		if err != nil {
			t.Errorf("withSearchPath(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("withSearchPath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
