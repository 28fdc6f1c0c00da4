package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/store"
	"github.com/latchauth/latch/internal/store/migration"
)

// What follows serves the backends' own tests: the steps of RunShared,
// RunUpgrade and a too-new database that differ between backends only in
// how a database is opened or written.

// OpenTwice opens two stores on one database, as RunShared's open must,
// stopping the test if either fails.
func OpenTwice(t *testing.T, open func(context.Context) (store.Store, error)) (a, b store.Store) {
	t.Helper()
	a, err := open(t.Context())
	must(t, "Open", err)
	b, err = open(t.Context())
	must(t, "Open", err)
	return a, b
}

// GooseMigrateTo is an Upgrade's MigrateTo for a backend that migrates
// with the goose provider that open returns.
func GooseMigrateTo(open migration.Open) MigrateTo {
	return func(ctx context.Context, version int64) error {
		p, err := open(ctx)
		if err != nil {
			return err
		}
		_, err = p.UpTo(ctx, version)
		return err
	}
}

// CheckDatabaseTooNew checks that Migrate and MigrationStatus refuse,
// with store.ErrDatabaseTooNew, a database that a newer latch has
// migrated. markVersion99999 must record version 99999 as applied in
// goose's version table, as that newer latch would have.
func CheckDatabaseTooNew(t *testing.T, s store.Store, markVersion99999 func(context.Context) error) {
	t.Helper()
	ctx := t.Context()
	must(t, "Migrate", s.Migrate(ctx))
	must(t, "record version 99999", markVersion99999(ctx))
	wantErr(t, "Migrate", s.Migrate(ctx), store.ErrDatabaseTooNew)
	st, err := s.MigrationStatus(ctx)
	wantErr(t, "MigrationStatus", err, store.ErrDatabaseTooNew)
	if st.Current != 99999 {
		t.Errorf("MigrationStatus.Current = %d, want 99999", st.Current)
	}
}

// SeedRow is one row a seed inserts: its table, the columns the table had
// at the seed's schema version, and their values, encoded by a
// SeedEncoding.
type SeedRow struct {
	Table   string
	Columns []string
	Values  []any
}

// InsertSQL returns the INSERT of r, its values as the parameters $1 to
// $n, in the order of r.Columns.
func (r SeedRow) InsertSQL() string {
	params := make([]string, len(r.Values))
	for i := range params {
		params[i] = fmt.Sprintf("$%d", i+1)
	}
	return fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", r.Table, strings.Join(r.Columns, ", "), strings.Join(params, ", "))
}

// SeedEncoding is how a backend's schema stored the values that have no
// one SQL encoding: a time (in a NOT NULL column; a zero time in a
// nullable one is NULL) and the AMR list (a nil AMR is an empty list).
// Byte strings go as they are, an empty one in a nullable column as NULL;
// metadata as its JSON text; enumerations as their strings.
type SeedEncoding struct {
	Time func(time.Time) any
	AMR  func([]string) any
}

// nullTime encodes a time for a nullable column.
func (e SeedEncoding) nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return e.Time(t)
}

// nullBytes encodes a nullable byte string.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// seedRows returns rows as schema version 1 stored them, in the order
// their foreign keys need.
func (rows Rows1) seedRows(e SeedEncoding) []SeedRow {
	var out []SeedRow
	add := func(table string, columns []string, values ...any) {
		out = append(out, SeedRow{table, columns, values})
	}
	for _, u := range rows.Users {
		add("users", []string{"id", "email", "email_verified", "password_hash", "metadata", "disabled",
			"created_at", "updated_at", "last_sign_in_at", "password_changed_at"},
			u.ID, u.Email, u.EmailVerified, u.PasswordHash, string(u.Metadata), u.Disabled,
			e.Time(u.CreatedAt), e.Time(u.UpdatedAt), e.nullTime(u.LastSignInAt), e.nullTime(u.PasswordChangedAt))
	}
	for _, s := range rows.Sessions {
		amr := s.AMR
		if amr == nil {
			amr = []string{}
		}
		add("sessions", []string{"id", "user_id", "created_at", "last_active_at", "expires_at", "revoked_at",
			"user_agent", "ip", "amr", "aal", "refresh_hash", "parent_hash", "rotated_at", "generation"},
			s.ID, s.UserID, e.Time(s.CreatedAt), e.Time(s.LastActiveAt), e.Time(s.ExpiresAt), e.nullTime(s.RevokedAt),
			s.UserAgent, s.IP, e.AMR(amr), s.AAL, s.RefreshHash, nullBytes(s.ParentHash), e.Time(s.RotatedAt), s.Generation)
	}
	for _, r := range rows.RefreshTokens {
		add("refresh_tokens", []string{"hash", "session_id", "issued_at"}, r.Hash, r.SessionID, e.Time(r.IssuedAt))
	}
	for _, k := range rows.Keys {
		add("signing_keys", []string{"id", "algorithm", "state", "sealed_key", "public_key",
			"created_at", "activated_at", "deactivate_at", "retire_at"},
			k.ID, k.Algorithm, string(k.State), k.SealedKey, k.PublicKey,
			e.Time(k.CreatedAt), e.nullTime(k.ActivatedAt), e.nullTime(k.DeactivateAt), e.nullTime(k.RetireAt))
	}
	for _, th := range rows.Throttles {
		add("throttles", []string{"key", "failures", "last_failure_at", "blocked_until"},
			th.Key, th.Failures, e.nullTime(th.LastFailureAt), e.nullTime(th.BlockedUntil))
	}
	return out
}

// seedTokens3 returns one-time tokens as schema version 3 stored them,
// with the columns one_time_tokens had then (SessionID, added later, is
// "" and not written).
func seedTokens3(tokens []store.OneTimeToken, e SeedEncoding) []SeedRow {
	var out []SeedRow
	for _, t := range tokens {
		out = append(out, SeedRow{"one_time_tokens", []string{"id", "user_id", "purpose", "email", "new_email",
			"hash", "code_hash", "created_at", "expires_at", "used_at", "attempts"},
			[]any{t.ID, t.UserID, string(t.Purpose), t.Email, t.NewEmail,
				t.Hash, nullBytes(t.CodeHash), e.Time(t.CreatedAt), e.Time(t.ExpiresAt), e.nullTime(t.UsedAt), t.Attempts}})
	}
	return out
}
