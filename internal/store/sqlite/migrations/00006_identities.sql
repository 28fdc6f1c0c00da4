-- Social sign-in: the provider identities linked to users, the nonces of
-- provider ID tokens already used, and the provider a session came from.
-- Times are INTEGER unix microseconds (NULL: the zero time), as in
-- 00001_init.sql.

-- +goose Up

-- An identity signs in its user, so it goes with it (ON DELETE CASCADE).
-- (provider, subject) names one person at one provider: it may sign in
-- one account only. email is what the provider last said, as given.
CREATE TABLE identities (
    id              TEXT    PRIMARY KEY,
    user_id         TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider        TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    email           TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    last_sign_in_at INTEGER,
    UNIQUE (provider, subject)
) STRICT;

-- ListIdentities selects by user, oldest first; the cascade from users
-- uses it too.
CREATE INDEX identities_user_id_created_at ON identities (user_id, created_at);

-- The hash of every ID-token nonce used, until the token it came in
-- expires: a replayed token is refused.
CREATE TABLE id_token_nonces (
    hash       BLOB    PRIMARY KEY,
    expires_at INTEGER NOT NULL
) STRICT;

-- DeleteNoncesBefore.
CREATE INDEX id_token_nonces_expires_at ON id_token_nonces (expires_at);

-- The social provider a session signed in with; '' for latch's own
-- credentials.
ALTER TABLE sessions ADD COLUMN idp TEXT NOT NULL DEFAULT '';

-- How many identities a user has, kept with them: a user with none
-- (most) is shown without a query of identities.
ALTER TABLE users ADD COLUMN identity_count INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE users DROP COLUMN identity_count;
ALTER TABLE sessions DROP COLUMN idp;
DROP TABLE id_token_nonces;
DROP TABLE identities;
