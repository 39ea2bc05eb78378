-- Client grants made through the Management API (`origin = 'api'`) survive a restart: applying
-- the tenant file replaces only the grants it declared itself.
ALTER TABLE client_grants ADD COLUMN origin TEXT NOT NULL DEFAULT 'file';
-- A log event names its client as it was called then.
ALTER TABLE logs ADD COLUMN client_name TEXT;
