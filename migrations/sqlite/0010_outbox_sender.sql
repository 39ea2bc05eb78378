-- The sender of a message when its kind's template names one (`emails.<kind>.from`); NULL
-- means the server's `--email-from`.
ALTER TABLE outbox ADD COLUMN sender TEXT;
