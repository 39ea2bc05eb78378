-- Client grants (Auth0's `client_grants`): which client may get tokens for which API, with at
-- most which scopes (a JSON array of strings). One grant per client and audience.
CREATE TABLE client_grants (
    client_id TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    audience TEXT NOT NULL,
    scope TEXT NOT NULL,
    PRIMARY KEY (client_id, audience)
);
