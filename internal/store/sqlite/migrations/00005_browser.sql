-- The browser flow: sessions gain a kind and a parent.
--
-- sessions.kind is 'app' (a refresh-token chain) or 'browser' (latch's
-- own cookie session); sessions.parent_id names the browser session an
-- app session was made from ('' for none; no foreign key, so that the
-- cleanup may delete a parent before its children).

-- +goose Up
ALTER TABLE sessions ADD COLUMN kind TEXT NOT NULL DEFAULT 'app' CHECK (kind IN ('app', 'browser'));
ALTER TABLE sessions ADD COLUMN parent_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE sessions DROP COLUMN parent_id;
ALTER TABLE sessions DROP COLUMN kind;
