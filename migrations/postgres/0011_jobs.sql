-- Management API jobs (users-imports, users-exports). A job is claimed by one instance at a
-- time (`claimed_until`, a guarded update, as the outbox); its input (the uploaded file) and
-- output (the gzipped export) live in the row, so any instance can run or serve it and a
-- restart loses nothing.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    connection TEXT,
    upsert BOOLEAN NOT NULL DEFAULT FALSE,
    external_id TEXT,
    format TEXT,
    options TEXT,
    input BYTEA,
    summary TEXT,
    errors TEXT,
    output BYTEA,
    error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    claimed_until BIGINT
);
CREATE INDEX jobs_status_idx ON jobs (status, created_at);
