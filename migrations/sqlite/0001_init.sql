-- latchkey schema, SQLite flavour. Keep in step with migrations/postgres.
CREATE TABLE tenant_settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    settings TEXT NOT NULL
);

CREATE TABLE clients (
    client_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    secret_hash TEXT,
    app_type TEXT NOT NULL,
    config TEXT NOT NULL,
    CONSTRAINT clients_name_key UNIQUE (name)
);

CREATE TABLE client_origins (
    client_id TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    origin TEXT NOT NULL,
    PRIMARY KEY (client_id, origin)
);
CREATE INDEX client_origins_origin_idx ON client_origins (origin);

CREATE TABLE connections (
    name TEXT PRIMARY KEY,
    strategy TEXT NOT NULL,
    enabled_clients TEXT NOT NULL,
    options TEXT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    connection TEXT NOT NULL,
    email TEXT NOT NULL,
    username TEXT,
    email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    given_name TEXT,
    family_name TEXT,
    name TEXT,
    nickname TEXT,
    picture TEXT,
    user_metadata TEXT NOT NULL DEFAULT '{}',
    app_metadata TEXT NOT NULL DEFAULT '{}',
    password_hash TEXT NOT NULL,
    blocked BOOLEAN NOT NULL DEFAULT FALSE,
    logins_count BIGINT NOT NULL DEFAULT 0,
    last_login BIGINT,
    last_ip TEXT,
    last_password_reset BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT users_connection_email_key UNIQUE (connection, email),
    CONSTRAINT users_connection_username_key UNIQUE (connection, username)
);

CREATE TABLE password_history (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX password_history_user_idx ON password_history (user_id, created_at);

-- Password history is kept by the database itself: every stored password (at creation and on
-- each change) is appended, in the same statement that writes it.
CREATE TRIGGER users_history_insert AFTER INSERT ON users
BEGIN
    INSERT INTO password_history (user_id, password_hash, created_at)
    VALUES (NEW.id, NEW.password_hash, NEW.updated_at);
END;

CREATE TRIGGER users_history_update AFTER UPDATE OF password_hash ON users
WHEN OLD.password_hash <> NEW.password_hash
BEGIN
    INSERT INTO password_history (user_id, password_hash, created_at)
    VALUES (NEW.id, NEW.password_hash, NEW.updated_at);
END;
