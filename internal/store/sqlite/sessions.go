package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/latchauth/latch/internal/store"
)

// amrText encodes AMR as a JSON array; nil and empty are both "[]" and
// come back nil.
func amrText(amr []string) (any, error) {
	if len(amr) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(amr)
	return string(b), err
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
	// failing towards signing out is the safe direction.
	except, _ = store.CanonicalID(except)
	res, err := db.execWrite(ctx, `UPDATE sessions SET revoked_at = ?
		WHERE user_id = ? AND revoked_at IS NULL AND id <> ?`,
		micros(at), userID, except)
	if err != nil {
		return 0, wrap("revoke sessions", err)
	}
	n, err := res.RowsAffected()
	return store.Saved(n, finish("revoke sessions", err))
}

// DeleteEndedSessions deletes, in batches (see deleteInBatches), the
// sessions revoked before revokedBefore, expired before expiredBefore or
// idle since before idleBefore; the schema's cascade deletes their refresh
// tokens in the same statement.
func (db *DB) DeleteEndedSessions(ctx context.Context, revokedBefore, expiredBefore, idleBefore time.Time) (int64, error) {
	// rowid: sessions has a TEXT key, and the rowid is the table's own
	// b-tree key, the cheapest way back from the subquery to the rows.
	// revoked_at < ? is false for NULL, the live sessions.
	return db.deleteInBatches(ctx, "delete ended sessions", `DELETE FROM sessions WHERE rowid IN (
		SELECT rowid FROM sessions
		WHERE revoked_at < ? OR expires_at < ? OR last_active_at < ?
		LIMIT ?)`,
		micros(revokedBefore), micros(expiredBefore), micros(idleBefore))
}
