-- The same schema change as the SQLite backend's 00006_identities.sql, in
-- PostgreSQL types: identities, ID-token nonces and sessions' provider.

-- +goose Up
CREATE TABLE identities (
    id              uuid        PRIMARY KEY,
    user_id         uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider        text        NOT NULL,
    subject         text        NOT NULL,
    email           text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    last_sign_in_at timestamptz,
    UNIQUE (provider, subject)
);

-- ListIdentities selects by user, oldest first; the cascade from users
-- uses it too.
CREATE INDEX identities_user_id_created_at ON identities (user_id, created_at);

CREATE TABLE id_token_nonces (
    hash       bytea       PRIMARY KEY,
    expires_at timestamptz NOT NULL
);

-- DeleteNoncesBefore.
CREATE INDEX id_token_nonces_expires_at ON id_token_nonces (expires_at);

ALTER TABLE sessions ADD COLUMN idp text NOT NULL DEFAULT '';

-- How many identities a user has, kept with them: a user with none
-- (most) is shown without a query of identities.
ALTER TABLE users ADD COLUMN identity_count integer NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE users DROP COLUMN identity_count;
ALTER TABLE sessions DROP COLUMN idp;
DROP TABLE id_token_nonces;
DROP TABLE identities;
