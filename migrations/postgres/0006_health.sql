-- /readyz writes here: a server whose database reads but cannot write is not ready.
CREATE TABLE health (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at BIGINT NOT NULL
);
