-- One-time tokens (address verification, password recovery, email change,
-- sign-in codes) and the outbox of mail waiting to be sent. Times are
-- INTEGER unix microseconds (NULL: the zero time), as in 00001_init.sql.

-- +goose Up

-- Only hashes are stored: a database leak must not hand out working
-- links or codes. The tokens act on an account, so they go with it
-- (ON DELETE CASCADE); new_email is '' unless the purpose is
-- email_change. hash is UNIQUE because UseOneTimeToken finds a token by
-- it alone.
CREATE TABLE one_time_tokens (
    id         TEXT    PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT    NOT NULL CHECK (purpose IN ('verify', 'recover', 'email_change', 'otp')),
    email      TEXT    NOT NULL,
    new_email  TEXT    NOT NULL DEFAULT '',
    hash       BLOB    NOT NULL UNIQUE,
    code_hash  BLOB,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    attempts   INTEGER NOT NULL DEFAULT 0
) STRICT;

-- ListOneTimeTokens selects by user and purpose, newest first; the
-- cascade from users uses it too.
CREATE INDEX one_time_tokens_user_id_purpose ON one_time_tokens (user_id, purpose, created_at);

-- DeleteOneTimeTokensBefore.
CREATE INDEX one_time_tokens_expires_at ON one_time_tokens (expires_at);

-- AUTOINCREMENT: without it SQLite hands out max(id)+1, so the id of a
-- message just sent and deleted would be issued again, and ids would not
-- increase with every message as store.OutboxMessage promises. user_id
-- references nothing, like audit_events.user_id: a message already queued
-- for an account that is then deleted is the sender's to drop, and NULL
-- means "no account". data, when present, is a JSON object.
CREATE TABLE mail_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    user_id         TEXT,
    data            TEXT    CHECK (json_valid(data) AND json_type(data) = 'object'),
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    locked_until    INTEGER,
    last_error      TEXT    NOT NULL DEFAULT ''
) STRICT;

-- ClaimMail looks for messages that are due.
CREATE INDEX mail_outbox_next_attempt_at ON mail_outbox (next_attempt_at);
