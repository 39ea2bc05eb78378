-- Delivery of the outbox. A sender claims a message by setting `claimed_until` in the future
-- (one guarded UPDATE: of two instances, one wins); a failure counts an attempt and sets the
-- next one's time (backoff); `sent_at` marks a delivered message.
ALTER TABLE outbox ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN next_attempt_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN claimed_until BIGINT;
ALTER TABLE outbox ADD COLUMN last_error TEXT;
CREATE INDEX outbox_due_idx ON outbox (sent_at, next_attempt_at);
