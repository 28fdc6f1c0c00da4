-- The same schema change as the SQLite backend's 00005_browser.sql, in
-- PostgreSQL types: sessions' kind and parent.

-- +goose Up
ALTER TABLE sessions ADD COLUMN kind text NOT NULL DEFAULT 'app' CHECK (kind IN ('app', 'browser'));
ALTER TABLE sessions ADD COLUMN parent_id text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE sessions DROP COLUMN parent_id;
ALTER TABLE sessions DROP COLUMN kind;
