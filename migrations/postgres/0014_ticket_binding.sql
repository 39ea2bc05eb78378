-- A ticket is bound to the address it was made for: it is honoured only while the user still
-- has that email (a changed address ends every outstanding link). `used_by` is the nonce of
-- the one request whose use won, so two uses in the same millisecond cannot both act.
ALTER TABLE tickets ADD COLUMN email TEXT;
ALTER TABLE tickets ADD COLUMN used_by TEXT;
