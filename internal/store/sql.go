package store

// Statements both SQL backends run as they are. They use PostgreSQL's
// numbered parameters ($1), which the SQLite driver binds by number too,
// and no syntax that only one dialect has. Where a backend needs more (a
// row lock, a hint of its own) it appends to them or writes its own; the
// arguments come from the Codec methods named beside each.

// Users.
const (
	// InsertUserSQL inserts a user; arguments: Codec.UserArgs.
	InsertUserSQL = `INSERT INTO users (` + userWriteColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`
	// GetUserSQL reads the user with id $1.
	GetUserSQL = `SELECT ` + UserColumns + ` FROM users WHERE id = $1`
	// GetUserByEmailSQL reads the user with email $1.
	GetUserByEmailSQL = `SELECT ` + UserColumns + ` FROM users WHERE email = $1`
	// UserCreatedSQL reads when the user with id $1 was created: the
	// cursor of ListUsersAfterSQL.
	UserCreatedSQL = `SELECT created_at FROM users WHERE id = $1`
	// ListUsersSQL reads the first $1 users in creation order.
	ListUsersSQL = `SELECT ` + UserColumns + ` FROM users
	ORDER BY created_at, id LIMIT $1`
	// ListUsersAfterSQL reads $3 users after the one created at $1 with
	// id $2, in creation order.
	ListUsersAfterSQL = `SELECT ` + UserColumns + ` FROM users
	WHERE (created_at, id) > ($1, $2)
	ORDER BY created_at, id LIMIT $3`
	// UpdateUserSQL saves every column but the id ($1) and returns the
	// row; arguments: Codec.SaveUserArgs.
	UpdateUserSQL = `UPDATE users SET
	email = $2, email_verified = $3, password_hash = $4, metadata = $5, disabled = $6,
	created_at = $7, updated_at = $8, last_sign_in_at = $9, password_changed_at = $10,
	credential_epoch = $11
	WHERE id = $1 RETURNING ` + UserColumns
	// DeleteUserSQL deletes the user with id $1.
	DeleteUserSQL = `DELETE FROM users WHERE id = $1`
	// UserEpochSQL reads the credential epoch of the user with id $1.
	UserEpochSQL = `SELECT credential_epoch FROM users WHERE id = $1`
)

// Sessions.
const (
	// InsertSessionSQL inserts a session; arguments: Codec.NewSession.
	InsertSessionSQL = `INSERT INTO sessions (` + SessionColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`
	// InsertRefreshTokenSQL records a refresh hash as issued by a
	// session; arguments: Codec.RefreshTokenArgs.
	InsertRefreshTokenSQL = `INSERT INTO refresh_tokens (hash, session_id, issued_at) VALUES ($1, $2, $3)`
	// GetSessionSQL reads the session with id $1.
	GetSessionSQL = `SELECT ` + SessionColumns + ` FROM sessions WHERE id = $1`
	// GetSessionWithUserSQL reads the session with id $1 and its user.
	GetSessionWithUserSQL = `SELECT ` + SessionColumnsOf + `, ` + UserColumnsOf + `
	FROM sessions s JOIN users u ON u.id = s.user_id
	WHERE s.id = $1`
	// GetSessionByRefreshHashSQL reads the session that issued the
	// refresh hash $1.
	GetSessionByRefreshHashSQL = `SELECT ` + SessionColumnsOf + `
	FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id
	WHERE r.hash = $1`
	// SessionWithUserByRefreshHashSQL reads the session that issued the
	// refresh hash $1 and its user.
	SessionWithUserByRefreshHashSQL = `SELECT ` + SessionColumnsOf + `, ` + UserColumnsOf + `
	FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id JOIN users u ON u.id = s.user_id
	WHERE r.hash = $1`
	// ListSessionsSQL reads the sessions of user $1 that are not
	// revoked, newest first.
	ListSessionsSQL = `SELECT ` + SessionColumns + ` FROM sessions
	WHERE user_id = $1 AND revoked_at IS NULL
	ORDER BY created_at DESC, id DESC`
	// UpdateSessionSQL saves every column of the session with id $1 but
	// its ids and returns the row; arguments: Codec.SaveSessionArgs.
	UpdateSessionSQL = `UPDATE sessions SET
	created_at = $2, last_active_at = $3, expires_at = $4, revoked_at = $5,
	user_agent = $6, ip = $7, amr = $8, aal = $9,
	refresh_hash = $10, parent_hash = $11, rotated_at = $12, generation = $13,
	auth_time = $14, credential_epoch = $15, idp = $16
	WHERE id = $1 RETURNING ` + SessionColumns
	// RevokeSessionsSQL marks revoked at $1 the live sessions of user $2
	// but the one with id $3 (NULL, distinct from every id: none).
	RevokeSessionsSQL = `UPDATE sessions SET revoked_at = $1
	WHERE user_id = $2 AND revoked_at IS NULL AND id IS DISTINCT FROM $3`
	// CountActiveSessionsSQL counts the sessions not revoked, expiring
	// after $1 and active after $2.
	CountActiveSessionsSQL = `SELECT count(*) FROM sessions
	WHERE revoked_at IS NULL AND expires_at > $1 AND last_active_at > $2`
)

// One-time tokens.
const (
	// InsertTokenSQL inserts a token; arguments: Codec.TokenArgs.
	InsertTokenSQL = `INSERT INTO one_time_tokens (` + TokenColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`
	// GetTokenSQL reads the token with id $1.
	GetTokenSQL = `SELECT ` + TokenColumns + ` FROM one_time_tokens WHERE id = $1`
	// UpdateTokenSQL saves what a caller may change of the token with id
	// $1 and returns the row; arguments: Codec.SaveTokenArgs.
	UpdateTokenSQL = `UPDATE one_time_tokens SET used_at = $2, attempts = $3
	WHERE id = $1 RETURNING ` + TokenColumns
	// SpendTokensSQL marks used at $1 the unused tokens of user $2 and
	// purpose $3 but the one with id $4.
	SpendTokensSQL = `UPDATE one_time_tokens SET used_at = $1
	WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL AND id <> $4`
	// ListTokensSQL reads the unused tokens of user $1 and purpose $2,
	// newest first.
	ListTokensSQL = `SELECT ` + TokenColumns + ` FROM one_time_tokens
	WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL
	ORDER BY created_at DESC, id DESC`
)

// Signing keys.
const (
	// ListKeysSQL reads every key, oldest first.
	ListKeysSQL = `SELECT ` + KeyColumns + ` FROM signing_keys ORDER BY created_at, id`
	// UpsertKeySQL inserts a key or replaces the one with its id;
	// arguments: Codec.KeyArgs.
	UpsertKeySQL = `INSERT INTO signing_keys (` + KeyColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
	ON CONFLICT (id) DO UPDATE SET
		algorithm = excluded.algorithm, state = excluded.state,
		sealed_key = excluded.sealed_key, public_key = excluded.public_key,
		created_at = excluded.created_at, activated_at = excluded.activated_at,
		deactivate_at = excluded.deactivate_at, retire_at = excluded.retire_at`
)

// Audit events and mail.
const (
	// AppendAuditSQL inserts an event and returns its id; arguments:
	// Codec.AuditArgs.
	AppendAuditSQL = `INSERT INTO audit_events
	(occurred_at, type, user_id, session_id, ip, user_agent, detail)
	VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`
	// EnqueueMailSQL inserts a message and returns its id; arguments:
	// Codec.MailArgs.
	EnqueueMailSQL = `INSERT INTO mail_outbox
	(kind, recipient, user_id, data, created_at, expires_at, next_attempt_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`
	// RetryMailSQL records a failed delivery of message $1: next attempt
	// at $2, error $3.
	RetryMailSQL = `UPDATE mail_outbox
	SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3, locked_until = NULL
	WHERE id = $1`
	// DeleteMailSQL deletes message $1.
	DeleteMailSQL = `DELETE FROM mail_outbox WHERE id = $1`
	// CountMailSQL counts the messages.
	CountMailSQL = `SELECT count(*) FROM mail_outbox`
)

// Identities and ID-token nonces.
const (
	// InsertIdentitySQL inserts an identity; arguments:
	// Codec.NewIdentity.
	InsertIdentitySQL = `INSERT INTO identities (` + IdentityColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7)`
	// GetIdentitySQL reads the identity of provider $1 and subject $2.
	GetIdentitySQL = `SELECT ` + IdentityColumns + ` FROM identities
	WHERE provider = $1 AND subject = $2`
	// GetIdentityByIDSQL reads the identity with id $1.
	GetIdentityByIDSQL = `SELECT ` + IdentityColumns + ` FROM identities WHERE id = $1`
	// ListIdentitiesSQL reads the identities of user $1, oldest first.
	ListIdentitiesSQL = `SELECT ` + IdentityColumns + ` FROM identities
	WHERE user_id = $1 ORDER BY created_at, id`
	// UpdateIdentitySQL saves what UpdateIdentity may change of the
	// identity with id $1 and returns the row; arguments:
	// Codec.SaveIdentityArgs.
	UpdateIdentitySQL = `UPDATE identities SET email = $2, last_sign_in_at = $3
	WHERE id = $1 RETURNING ` + IdentityColumns
	// CountIdentitiesSQL adds $2 (1 or -1) to the identity count of the
	// user with id $1.
	CountIdentitiesSQL = `UPDATE users SET identity_count = identity_count + $2 WHERE id = $1`
	// DeleteIdentitySQL deletes the identity with id $1 of user $2.
	DeleteIdentitySQL = `DELETE FROM identities WHERE id = $1 AND user_id = $2`
	// ClaimNonceSQL records the nonce hash $1 as used until $2, unless it
	// is recorded already with an expiry after $3 (now): then it changes
	// no row. Arguments: Codec.NonceArgs.
	ClaimNonceSQL = `INSERT INTO id_token_nonces (hash, expires_at) VALUES ($1, $2)
	ON CONFLICT (hash) DO UPDATE SET expires_at = excluded.expires_at
	WHERE id_token_nonces.expires_at <= $3`
)

// Factors.
const (
	// InsertFactorSQL inserts a factor; arguments: Codec.NewFactor.
	InsertFactorSQL = `INSERT INTO factors (` + FactorColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`
	// GetFactorSQL reads the factor with id $1.
	GetFactorSQL = `SELECT ` + FactorColumns + ` FROM factors WHERE id = $1`
	// GetFactorByCredentialSQL reads the factor with credential id $1.
	GetFactorByCredentialSQL = `SELECT ` + FactorColumns + ` FROM factors WHERE credential_id = $1`
	// FactorUserSQL reads the user id of the factor with id $1.
	FactorUserSQL = `SELECT user_id FROM factors WHERE id = $1`
	// FactorOfUserSQL reads the factor with id $1 if its user is $2.
	FactorOfUserSQL = `SELECT ` + FactorColumns + ` FROM factors WHERE id = $1 AND user_id = $2`
	// ListFactorsSQL reads the factors of user $1, oldest first.
	ListFactorsSQL = `SELECT ` + FactorColumns + ` FROM factors
	WHERE user_id = $1 ORDER BY created_at, id`
	// ListOtherFactorsSQL reads the factors of user $1 but the one with
	// id $2, oldest first.
	ListOtherFactorsSQL = `SELECT ` + FactorColumns + ` FROM factors
	WHERE user_id = $1 AND id <> $2 ORDER BY created_at, id`
	// UpdateFactorSQL saves what UpdateFactor may change of the factor
	// with id $1 and returns the row; arguments: Codec.SaveFactorArgs.
	UpdateFactorSQL = `UPDATE factors SET name = $2, secret = $3, counter = $4, last_used_at = $5
	WHERE id = $1 RETURNING ` + FactorColumns
	// VerifyFactorSQL saves what VerifyFactor may change of the factor
	// with id $1 and returns the row; arguments: Codec.VerifyFactorArgs.
	VerifyFactorSQL = `UPDATE factors SET name = $2, secret = $3, credential_id = $4, counter = $5,
	verified_at = $6, last_used_at = $7
	WHERE id = $1 RETURNING ` + FactorColumns
	// DeleteFactorSQL deletes the factor with id $1 of user $2.
	DeleteFactorSQL = `DELETE FROM factors WHERE id = $1 AND user_id = $2`
)

// Reads that more than one role makes.
const (
	// TokenUserSQL reads the user id of the token with hash $1.
	TokenUserSQL = `SELECT user_id FROM one_time_tokens WHERE hash = $1`
	// TokenOfUserSQL reads the token with hash $1 if its user is $2.
	TokenOfUserSQL = `SELECT ` + TokenColumns + ` FROM one_time_tokens WHERE hash = $1 AND user_id = $2`
	// AuditColumns are the columns ScanAudit reads: the optional ids as
	// text, "" for NULL, so that they scan into strings.
	AuditColumns = `id, occurred_at, type, coalesce(CAST(user_id AS TEXT), ''), coalesce(CAST(session_id AS TEXT), ''),
	ip, user_agent, detail`
	// MailColumns are the columns ScanMail reads: the optional user id as
	// text, "" for NULL, so that it scans into a string.
	MailColumns = `id, kind, recipient, coalesce(CAST(user_id AS TEXT), ''), data, created_at, expires_at,
	attempts, next_attempt_at, locked_until, last_error`
)
