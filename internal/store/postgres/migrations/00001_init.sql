-- The same schema as the SQLite backend's 00001_init.sql, in PostgreSQL
-- types. Unqualified names: the schema is the first one on search_path.

-- +goose Up
CREATE TABLE users (
    id                  uuid        PRIMARY KEY,
    email               text        NOT NULL UNIQUE,
    email_verified      boolean     NOT NULL DEFAULT false,
    password_hash       text        NOT NULL DEFAULT '',
    metadata            jsonb       NOT NULL DEFAULT '{}',
    disabled            boolean     NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    last_sign_in_at     timestamptz,
    password_changed_at timestamptz
);

-- ListUsers pages in creation order.
CREATE INDEX users_created_at_id ON users (created_at, id);

CREATE TABLE sessions (
    id             uuid        PRIMARY KEY,
    user_id        uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     timestamptz NOT NULL,
    last_active_at timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    revoked_at     timestamptz,
    user_agent     text        NOT NULL DEFAULT '',
    ip             text        NOT NULL DEFAULT '',
    amr            text[]      NOT NULL DEFAULT '{}',
    aal            text        NOT NULL DEFAULT '',
    refresh_hash   bytea       NOT NULL,
    parent_hash    bytea,
    rotated_at     timestamptz NOT NULL,
    generation     bigint      NOT NULL DEFAULT 0
);

-- ListSessions and RevokeSessions select by user, newest first; the
-- cascade from users uses it too.
CREATE INDEX sessions_user_id_created_at ON sessions (user_id, created_at DESC);

-- Every refresh token a session has issued, so that a rotated token is
-- still recognised (and its re-use detected) after it was replaced.
CREATE TABLE refresh_tokens (
    hash       bytea       PRIMARY KEY,
    session_id uuid        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    issued_at  timestamptz NOT NULL
);

-- Without it the cascade from sessions would scan the whole table.
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);

CREATE TABLE signing_keys (
    id            text        PRIMARY KEY,
    algorithm     text        NOT NULL,
    state         text        NOT NULL CHECK (state IN ('next', 'current', 'previous', 'retired')),
    sealed_key    bytea       NOT NULL,
    public_key    bytea       NOT NULL,
    created_at    timestamptz NOT NULL,
    activated_at  timestamptz,
    deactivate_at timestamptz,
    retire_at     timestamptz
);

CREATE TABLE throttles (
    key             text        PRIMARY KEY,
    failures        bigint      NOT NULL DEFAULT 0,
    last_failure_at timestamptz,
    blocked_until   timestamptz
);
