-- Times are INTEGER unix microseconds (NULL: the zero time); hashes and
-- keys are BLOBs; AMR and metadata are JSON text. STRICT makes SQLite
-- refuse a value of the wrong type instead of storing it silently.

-- +goose Up
CREATE TABLE users (
    id                  TEXT    PRIMARY KEY,
    email               TEXT    NOT NULL UNIQUE,
    email_verified      INTEGER NOT NULL DEFAULT 0,
    password_hash       TEXT    NOT NULL DEFAULT '',
    metadata            TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    disabled            INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    last_sign_in_at     INTEGER,
    password_changed_at INTEGER
) STRICT;

-- ListUsers pages in creation order.
CREATE INDEX users_created_at_id ON users (created_at, id);

CREATE TABLE sessions (
    id             TEXT    PRIMARY KEY,
    user_id        TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     INTEGER NOT NULL,
    last_active_at INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    revoked_at     INTEGER,
    user_agent     TEXT    NOT NULL DEFAULT '',
    ip             TEXT    NOT NULL DEFAULT '',
    amr            TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(amr)),
    aal            TEXT    NOT NULL DEFAULT '',
    refresh_hash   BLOB    NOT NULL,
    parent_hash    BLOB,
    rotated_at     INTEGER NOT NULL,
    generation     INTEGER NOT NULL DEFAULT 0
) STRICT;

-- ListSessions and RevokeSessions select by user, newest first; the
-- cascade from users uses it too.
CREATE INDEX sessions_user_id_created_at ON sessions (user_id, created_at);

-- Every refresh token a session has issued, so that a rotated token is
-- still recognised (and its re-use detected) after it was replaced.
CREATE TABLE refresh_tokens (
    hash       BLOB    PRIMARY KEY,
    session_id TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    issued_at  INTEGER NOT NULL
) STRICT;

-- Without it the cascade from sessions would scan the whole table.
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);

CREATE TABLE signing_keys (
    id            TEXT    PRIMARY KEY,
    algorithm     TEXT    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('next', 'current', 'previous', 'retired')),
    sealed_key    BLOB    NOT NULL,
    public_key    BLOB    NOT NULL,
    created_at    INTEGER NOT NULL,
    activated_at  INTEGER,
    deactivate_at INTEGER,
    retire_at     INTEGER
) STRICT;

CREATE TABLE throttles (
    key             TEXT    PRIMARY KEY,
    failures        INTEGER NOT NULL DEFAULT 0,
    last_failure_at INTEGER,
    blocked_until   INTEGER
) STRICT;
