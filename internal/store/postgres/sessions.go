package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/latchauth/latch/internal/store"
)

// amrArray returns AMR for a NOT NULL text[]: nil becomes the empty
// array, and comes back nil.
func amrArray(amr []string) (any, error) {
	if amr == nil {
		return []string{}, nil
	}
	return amr, nil
}

// RevokeSessions marks the user's live sessions revoked at at, except the
// one with id except (if not ""), and returns how many it marked.
func (db *DB) RevokeSessions(ctx context.Context, userID, except string, at time.Time) (int64, error) {
	if at.IsZero() {
		return 0, wrap("revoke sessions", errors.New("the revocation time is zero"))
	}
	userID, ok := store.CanonicalID(userID)
	if !ok {
		return 0, nil
	}
	// A malformed except names no session, so every live one is revoked:
	// failing towards signing out is the safe direction. NULL (no
	// exception) is distinct from every id.
	var exceptID any
	if id, ok := store.CanonicalID(except); ok {
		exceptID = id
	}
	tag, err := db.pool.Exec(ctx, `UPDATE sessions SET revoked_at = $1
		WHERE user_id = $2 AND revoked_at IS NULL AND id IS DISTINCT FROM $3`,
		at, userID, exceptID)
	if err != nil {
		return 0, wrap("revoke sessions", err)
	}
	return tag.RowsAffected(), nil
}

// DeleteEndedSessions deletes, in batches (see deleteInBatches), the
// sessions revoked before revokedBefore, expired before expiredBefore or
// idle since before idleBefore; the schema's cascade deletes their refresh
// tokens in the same statement.
func (db *DB) DeleteEndedSessions(ctx context.Context, revokedBefore, expiredBefore, idleBefore time.Time) (int64, error) {
	// revoked_at < $1 is false for NULL, the live sessions.
	return db.deleteInBatches(ctx, "delete ended sessions", `DELETE FROM sessions WHERE id IN (
		SELECT id FROM sessions
		WHERE revoked_at < $1 OR expires_at < $2 OR last_active_at < $3
		LIMIT $4 FOR UPDATE SKIP LOCKED)`,
		revokedBefore, expiredBefore, idleBefore)
}
