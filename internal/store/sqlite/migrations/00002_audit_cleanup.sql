-- The audit trail, and the indexes that let the clean-up methods find
-- ended sessions and stale throttles without scanning their tables.

-- +goose Up

-- AUTOINCREMENT: without it SQLite hands out max(id)+1, so once retention
-- had deleted the newest rows their ids would be issued again, and a
-- cursor held by a reader could point at different events. user_id and
-- session_id reference nothing: an account's history must survive the
-- deletion of the account. NULL there means "no user" / "no session".
CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    occurred_at INTEGER NOT NULL,
    type        TEXT    NOT NULL,
    user_id     TEXT,
    session_id  TEXT,
    ip          TEXT    NOT NULL DEFAULT '',
    user_agent  TEXT    NOT NULL DEFAULT '',
    detail      TEXT    CHECK (json_valid(detail))
) STRICT;

-- DeleteAuditBefore and ListAudit's Since.
CREATE INDEX audit_events_occurred_at ON audit_events (occurred_at);

-- ListAudit for one user, newest first, paged by id.
CREATE INDEX audit_events_user_id_id ON audit_events (user_id, id);

-- DeleteEndedSessions selects by each of its three cut-offs, and
-- CountActiveSessions by expiry. Live sessions have no revoked_at, so that
-- index holds revoked ones only.
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_last_active_at ON sessions (last_active_at);
CREATE INDEX sessions_revoked_at ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

-- DeleteThrottlesBefore.
CREATE INDEX throttles_last_failure_at ON throttles (last_failure_at);
