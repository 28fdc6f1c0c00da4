-- The same schema change as the SQLite backend's 00003_mail.sql, in
-- PostgreSQL types: one-time tokens and the outbox of mail waiting to be
-- sent.

-- +goose Up

-- Only hashes are stored: a database leak must not hand out working
-- links or codes. The tokens act on an account, so they go with it
-- (ON DELETE CASCADE); new_email is '' unless the purpose is
-- email_change. hash is UNIQUE because UseOneTimeToken finds a token by
-- it alone.
CREATE TABLE one_time_tokens (
    id         uuid        PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    text        NOT NULL CHECK (purpose IN ('verify', 'recover', 'email_change', 'otp')),
    email      text        NOT NULL,
    new_email  text        NOT NULL DEFAULT '',
    hash       bytea       NOT NULL UNIQUE,
    code_hash  bytea,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    attempts   bigint      NOT NULL DEFAULT 0
);

-- ListOneTimeTokens selects by user and purpose, newest first; the
-- cascade from users uses it too.
CREATE INDEX one_time_tokens_user_id_purpose ON one_time_tokens (user_id, purpose, created_at DESC);

-- DeleteOneTimeTokensBefore.
CREATE INDEX one_time_tokens_expires_at ON one_time_tokens (expires_at);

-- An identity column never reissues an id, even after the newest
-- messages were sent and deleted. user_id references nothing, like
-- audit_events.user_id: a message already queued for an account that is
-- then deleted is the sender's to drop, and NULL means "no account".
--
-- data is json, not jsonb: json checks the syntax but keeps the text as
-- given, so the sender reads back exactly what was queued (jsonb would
-- reorder keys, and refuse \u0000 in strings, which SQLite stores).
CREATE TABLE mail_outbox (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            text        NOT NULL,
    recipient       text        NOT NULL,
    user_id         uuid,
    data            json        CHECK (json_typeof(data) = 'object'),
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    attempts        bigint      NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    locked_until    timestamptz,
    last_error      text        NOT NULL DEFAULT ''
);

-- ClaimMail looks for messages that are due.
CREATE INDEX mail_outbox_next_attempt_at ON mail_outbox (next_attempt_at);
