-- Credential epochs, authentication time and the email-change undo link.
--
-- users.credential_epoch counts changes to how the user proves who they
-- are (a password set, reset or removed, an address changed); a session
-- records the epoch it was made under and CreateSession refuses one that
-- is behind, so a sign-in whose check was overtaken by a change starts
-- nothing. sessions.auth_time is when the person last proved a
-- credential (NULL: never, e.g. a session from an email link).
-- one_time_tokens gains the purpose email_revert (SQLite cannot alter a
-- CHECK constraint, so the table is rebuilt) and session_id, the session
-- that asked for the token ('' for none).

-- +goose Up
ALTER TABLE users ADD COLUMN credential_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN auth_time INTEGER;
ALTER TABLE sessions ADD COLUMN credential_epoch INTEGER NOT NULL DEFAULT 0;

CREATE TABLE one_time_tokens_new (
    id         TEXT    PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT    NOT NULL CHECK (purpose IN ('verify', 'recover', 'email_change', 'otp', 'email_revert')),
    email      TEXT    NOT NULL,
    new_email  TEXT    NOT NULL DEFAULT '',
    hash       BLOB    NOT NULL UNIQUE,
    code_hash  BLOB,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    attempts   INTEGER NOT NULL DEFAULT 0,
    session_id TEXT    NOT NULL DEFAULT ''
) STRICT;
INSERT INTO one_time_tokens_new (id, user_id, purpose, email, new_email, hash, code_hash, created_at, expires_at, used_at, attempts)
    SELECT id, user_id, purpose, email, new_email, hash, code_hash, created_at, expires_at, used_at, attempts FROM one_time_tokens;
DROP TABLE one_time_tokens;
ALTER TABLE one_time_tokens_new RENAME TO one_time_tokens;
CREATE INDEX one_time_tokens_user_id_purpose ON one_time_tokens (user_id, purpose, created_at);
CREATE INDEX one_time_tokens_expires_at ON one_time_tokens (expires_at);
