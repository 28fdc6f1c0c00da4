-- The same schema change as the SQLite backend's 00007_factors.sql, in
-- PostgreSQL types: users' second factors.

-- +goose Up
CREATE TABLE factors (
    id            uuid        PRIMARY KEY,
    user_id       uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type          text        NOT NULL CHECK (type IN ('totp', 'webauthn', 'recovery')),
    name          text        NOT NULL DEFAULT '',
    secret        bytea,
    credential_id bytea       UNIQUE,
    counter       bigint      NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL,
    verified_at   timestamptz,
    last_used_at  timestamptz
);

-- ListFactors selects by user, oldest first, ties broken by id; the
-- cascade from users uses it too.
CREATE INDEX factors_user_id_created_at_id ON factors (user_id, created_at, id);

-- DeletePendingFactorsBefore: only the pending rows, by age.
CREATE INDEX factors_pending_created_at ON factors (created_at) WHERE verified_at IS NULL;

-- one_time_tokens gains the purpose mfa: a sign-in waiting for its
-- second step (attempts counts its wrong answers).
ALTER TABLE one_time_tokens DROP CONSTRAINT one_time_tokens_purpose_check;
ALTER TABLE one_time_tokens ADD CONSTRAINT one_time_tokens_purpose_check
    CHECK (purpose IN ('verify', 'recover', 'email_change', 'otp', 'email_revert', 'mfa'));

-- +goose Down
DROP TABLE factors;
DELETE FROM one_time_tokens WHERE purpose = 'mfa';
ALTER TABLE one_time_tokens DROP CONSTRAINT one_time_tokens_purpose_check;
ALTER TABLE one_time_tokens ADD CONSTRAINT one_time_tokens_purpose_check
    CHECK (purpose IN ('verify', 'recover', 'email_change', 'otp', 'email_revert'));
