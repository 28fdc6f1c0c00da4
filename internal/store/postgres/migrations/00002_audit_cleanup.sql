-- The same schema change as the SQLite backend's 00002_audit_cleanup.sql,
-- in PostgreSQL types.
--
-- The indexes are built inside the migration's transaction, not
-- CONCURRENTLY (which cannot run in one): on a large sessions table,
-- writes to it wait while they build.

-- +goose Up

-- An identity column never reissues an id, even after retention deleted
-- the newest rows. user_id and session_id reference nothing: an account's
-- history must survive the deletion of the account. NULL there means "no
-- user" / "no session".
CREATE TABLE audit_events (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at timestamptz NOT NULL,
    type        text        NOT NULL,
    user_id     uuid,
    session_id  uuid,
    ip          text        NOT NULL DEFAULT '',
    user_agent  text        NOT NULL DEFAULT '',
    detail      jsonb
);

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
