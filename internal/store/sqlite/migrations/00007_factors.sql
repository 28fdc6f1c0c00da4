-- Second factors: authenticator apps, passkeys and recovery codes.
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

-- +goose Down
DROP TABLE factors;
