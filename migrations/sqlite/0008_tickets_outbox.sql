-- Email flows. A ticket is a single-use link (password reset, email verification), stored as
-- the SHA-256 of its value; `used_at` is set by the one use that wins.
CREATE TABLE tickets (
    id_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    result_url TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX tickets_expires_idx ON tickets (expires_at);

-- Messages to send. Written in the transaction that makes them (a ticket and its email
-- together), read by a sender; without SMTP they stay here for development and tests.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX outbox_recipient_idx ON outbox (recipient, created_at);
