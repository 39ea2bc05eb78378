-- Refresh tokens, stored only as SHA-256 hashes. A family is the chain of tokens one login
-- started; each use inserts the next token with `parent_hash` naming the one it replaces. The
-- rotated token stays, so that its re-use is recognised and revokes the whole family. The
-- unique constraint on `parent_hash` lets a token be rotated once only: of two concurrent
-- uses, the database admits one. The foreign key makes revocation and rotation exclusive: a
-- successor cannot be added to a token being deleted, and deleting a token deletes the
-- successors it already has.
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    parent_hash TEXT REFERENCES refresh_tokens (token_hash) ON DELETE CASCADE,
    family_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    audience TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    CONSTRAINT refresh_tokens_parent_key UNIQUE (parent_hash)
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);

-- Brute-force protection: consecutive failed login attempts per (connection, identifier, IP).
-- An attempt is counted before its password is checked, so parallel guesses cannot pass the
-- limit; a successful login deletes the row.
CREATE TABLE login_attempts (
    connection TEXT NOT NULL,
    identifier TEXT NOT NULL,
    ip TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (connection, identifier, ip)
);
