-- Metadata stored with an escaped NUL (\u0000) before control characters were refused: the
-- replacement character U+FFFD takes its place, as on PostgreSQL (where jsonb refuses the
-- escape and one such row broke every metadata search), so the stores hold the same values.
UPDATE users SET user_metadata = replace(user_metadata, '\u0000', '\ufffd')
    WHERE instr(user_metadata, '\u0000') > 0;
UPDATE users SET app_metadata = replace(app_metadata, '\u0000', '\ufffd')
    WHERE instr(app_metadata, '\u0000') > 0;
