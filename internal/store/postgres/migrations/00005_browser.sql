-- The same schema change as the SQLite backend's 00005_browser.sql, in
-- PostgreSQL types: sessions' kind and parent, and authorization codes.

-- +goose Up
ALTER TABLE sessions ADD COLUMN kind text NOT NULL DEFAULT 'app' CHECK (kind IN ('app', 'browser'));
ALTER TABLE sessions ADD COLUMN parent_id text NOT NULL DEFAULT '';

CREATE TABLE authorization_codes (
    hash         bytea       PRIMARY KEY,
    user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id   text        NOT NULL,
    redirect_uri text        NOT NULL,
    challenge    text        NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    issued_id    text        NOT NULL DEFAULT ''
);

CREATE INDEX authorization_codes_expires_at ON authorization_codes (expires_at);
CREATE INDEX authorization_codes_user_id ON authorization_codes (user_id);

-- +goose Down
DROP TABLE authorization_codes;
ALTER TABLE sessions DROP COLUMN parent_id;
ALTER TABLE sessions DROP COLUMN kind;
