-- Second factors: authenticator apps, passkeys and recovery codes; and
-- one_time_tokens gains the purpose mfa (a sign-in waiting for its
-- second step: attempts counts its wrong answers), for which SQLite
-- rebuilds the table as 00004 did.
-- Times are INTEGER unix microseconds (NULL: the zero time), as in
-- 00001_init.sql.

-- +goose Up

-- A factor proves its user, so it goes with it (ON DELETE CASCADE).
-- secret is opaque to the store; NULL is empty (a set of recovery codes
-- all spent). credential_id is a WebAuthn credential's id, unique across
-- all factors; NULL for the other types and for a pending passkey, and
-- NULLs do not collide. verified_at is NULL while the factor is pending.
CREATE TABLE factors (
    id            TEXT    PRIMARY KEY,
    user_id       TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type          TEXT    NOT NULL CHECK (type IN ('totp', 'webauthn', 'recovery')),
    name          TEXT    NOT NULL DEFAULT '',
    secret        BLOB,
    credential_id BLOB    UNIQUE,
    counter       INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    verified_at   INTEGER,
    last_used_at  INTEGER
) STRICT;

-- ListFactors selects by user, oldest first, ties broken by id; the
-- cascade from users uses it too.
CREATE INDEX factors_user_id_created_at_id ON factors (user_id, created_at, id);

-- DeletePendingFactorsBefore: only the pending rows, by age. Verified
-- factors, nearly all of them, stay out of it.
CREATE INDEX factors_pending_created_at ON factors (created_at) WHERE verified_at IS NULL;

CREATE TABLE one_time_tokens_new (
    id         TEXT    PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT    NOT NULL CHECK (purpose IN ('verify', 'recover', 'email_change', 'otp', 'email_revert', 'mfa')),
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
INSERT INTO one_time_tokens_new (id, user_id, purpose, email, new_email, hash, code_hash, created_at, expires_at, used_at, attempts, session_id)
    SELECT id, user_id, purpose, email, new_email, hash, code_hash, created_at, expires_at, used_at, attempts, session_id FROM one_time_tokens;
DROP TABLE one_time_tokens;
ALTER TABLE one_time_tokens_new RENAME TO one_time_tokens;
CREATE INDEX one_time_tokens_user_id_purpose ON one_time_tokens (user_id, purpose, created_at);
CREATE INDEX one_time_tokens_expires_at ON one_time_tokens (expires_at);

-- +goose Down
DROP TABLE factors;
DELETE FROM one_time_tokens WHERE purpose = 'mfa';
