-- RS256 signing keys, shared by every instance. `active` is 1 for the key that signs and NULL
-- once retired; its unique constraint guarantees a single active key even when instances
-- start or rotate concurrently. Retired keys stay published until their tokens expire.
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    private_pem TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    active BIGINT UNIQUE,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);
