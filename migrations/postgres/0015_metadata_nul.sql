-- Metadata stored with an escaped NUL (\u0000) before control characters were refused:
-- PostgreSQL's jsonb refuses that escape, so one such row made every metadata search of the
-- tenant fail. The replacement character U+FFFD takes its place.
UPDATE users SET user_metadata = replace(user_metadata, '\u0000', '\ufffd')
    WHERE strpos(user_metadata, '\u0000') > 0;
UPDATE users SET app_metadata = replace(app_metadata, '\u0000', '\ufffd')
    WHERE strpos(app_metadata, '\u0000') > 0;
