-- Brute-force protection counts failures only. Evaluations in flight are `pending`: a login is
-- evaluated only while failures + pending stay within the limit, so parallel guesses cannot
-- pass it, and parallel correct logins wait instead of being refused. The identifier column
-- now holds SHA-256 (hex) of the identifier typed (a fixed size, whatever was typed); rows of
-- the earlier form could never match again, so they go: upgrading lifts existing blocks.
DELETE FROM login_attempts;
ALTER TABLE login_attempts ADD COLUMN pending BIGINT NOT NULL DEFAULT 0;
