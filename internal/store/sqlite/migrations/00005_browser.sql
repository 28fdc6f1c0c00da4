-- The browser flow: sessions gain a kind and a parent, and authorization
-- codes get their table.
--
-- sessions.kind is 'app' (a refresh-token chain) or 'browser' (latch's
-- own cookie session); sessions.parent_id names the browser session an
-- app session was made from ('' for none; no foreign key, so that the
-- cleanup may delete a parent before its children).
-- authorization_codes holds the SHA-256 of each code with what it is
-- bound to (user, browser session, redirect URI, PKCE challenge), when it
-- expires, and once redeemed, when and by which app session.

-- +goose Up
ALTER TABLE sessions ADD COLUMN kind TEXT NOT NULL DEFAULT 'app' CHECK (kind IN ('app', 'browser'));
ALTER TABLE sessions ADD COLUMN parent_id TEXT NOT NULL DEFAULT '';

CREATE TABLE authorization_codes (
    hash         BLOB    PRIMARY KEY,
    user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id   TEXT    NOT NULL,
    redirect_uri TEXT    NOT NULL,
    challenge    TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER,
    issued_id    TEXT    NOT NULL DEFAULT ''
) STRICT;

-- The cleanup deletes by expiry; the cascade from users by user.
CREATE INDEX authorization_codes_expires_at ON authorization_codes (expires_at);
CREATE INDEX authorization_codes_user_id ON authorization_codes (user_id);

-- +goose Down
DROP TABLE authorization_codes;
ALTER TABLE sessions DROP COLUMN parent_id;
ALTER TABLE sessions DROP COLUMN kind;
