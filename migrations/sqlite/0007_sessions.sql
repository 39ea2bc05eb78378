-- Hosted login. Every secret here is stored as its SHA-256 (hex): the session cookie, the
-- login transaction's `state`, the authorization code. All three are 256-bit random strings.
--
-- A session: what the `auth0` cookie names. `sid` is its public id (the id_token's `sid`
-- claim); `auth_time` is when the user last typed a password in it. Absolute and idle expiry
-- are tenant settings, applied on read, so a settings change takes effect at once.
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    sid TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    CONSTRAINT sessions_sid_key UNIQUE (sid)
);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_last_seen_idx ON sessions (last_seen);

-- A login transaction: a validated /authorize request waiting for the user at /u/login or
-- /u/signup (`state` in the page's URL).
CREATE TABLE login_transactions (
    id_hash TEXT PRIMARY KEY,
    request TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX login_transactions_expires_idx ON login_transactions (expires_at);

-- Authorization codes, single-use: `used_at` is set by the one exchange that wins. A code
-- reserves the id of the refresh-token family its exchange may start, so a replay can revoke
-- what the first use issued.
CREATE TABLE authorization_codes (
    code_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_hash TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT,
    scope TEXT NOT NULL,
    audience TEXT,
    nonce TEXT,
    auth_time BIGINT NOT NULL,
    sid TEXT NOT NULL,
    family_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX authorization_codes_expires_idx ON authorization_codes (expires_at);
