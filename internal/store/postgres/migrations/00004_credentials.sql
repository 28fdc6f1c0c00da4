-- The same schema change as the SQLite backend's 00004_credentials.sql,
-- in PostgreSQL types: credential epochs, authentication time, and the
-- email-change undo link.

-- +goose Up
ALTER TABLE users ADD COLUMN credential_epoch bigint NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN auth_time timestamptz;
ALTER TABLE sessions ADD COLUMN credential_epoch bigint NOT NULL DEFAULT 0;
ALTER TABLE one_time_tokens DROP CONSTRAINT one_time_tokens_purpose_check;
ALTER TABLE one_time_tokens ADD CONSTRAINT one_time_tokens_purpose_check
    CHECK (purpose IN ('verify', 'recover', 'email_change', 'otp', 'email_revert'));
ALTER TABLE one_time_tokens ADD COLUMN session_id text NOT NULL DEFAULT '';
