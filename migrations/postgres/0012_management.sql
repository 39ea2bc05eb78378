-- Management API. Lookups by email across connections (users-by-email, q=email:"…") and pages
-- sorted by creation time use these indexes instead of scanning the users.
CREATE INDEX users_email_idx ON users (email);
CREATE INDEX users_created_at_idx ON users (created_at, id);

-- Roles (Auth0's RBAC roles) and who holds them. A role's name is unique.
CREATE TABLE roles (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT,
    created_at BIGINT NOT NULL,
    CONSTRAINT roles_name_key UNIQUE (name)
);
CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, role_id)
);
CREATE INDEX user_roles_role_idx ON user_roles (role_id);

-- The tenant log: append-only events (management.md's types), never a secret, password or token.
-- `seq` orders them (checkpoint paging, `from=<log_id>`); `log_id` is the public id.
CREATE TABLE logs (
    seq BIGSERIAL PRIMARY KEY,
    log_id TEXT NOT NULL,
    date BIGINT NOT NULL,
    type TEXT NOT NULL,
    description TEXT,
    client_id TEXT,
    connection TEXT,
    ip TEXT,
    user_agent TEXT,
    user_id TEXT,
    user_name TEXT,
    details TEXT,
    CONSTRAINT logs_log_id_key UNIQUE (log_id)
);
CREATE INDEX logs_user_idx ON logs (user_id, seq);
CREATE INDEX logs_date_idx ON logs (date);
