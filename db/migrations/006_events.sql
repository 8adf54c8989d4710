-- 006: events kept in the store (issue 10).
--
-- Every event a daemon publishes is also written here, in the transaction
-- of the work it reports, so a consumer that was not running can replay
-- what it missed (ciu-tap --since) and the dashboard can count
-- conversations. Append-only: each stage inserts its own events; only the
-- retention purge (ciu-admin purge, CIU_RETENTION_DAYS) deletes. `seq` is
-- the replay cursor; the other columns are the event's fields as published
-- (docs/events.md): no phone number and no answer in clear (`user_key` is
-- the keyed hash), "" / 0 where a field is not set.
CREATE TABLE events (
    seq {{ID}},
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    ts_ms BIGINT NOT NULL,
    trace TEXT NOT NULL DEFAULT '',
    user_key TEXT NOT NULL DEFAULT '',
    row_id BIGINT NOT NULL DEFAULT 0,
    channel TEXT NOT NULL DEFAULT '',
    ciu TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '',
    existing INTEGER NOT NULL DEFAULT 0,
    duration_ms BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX events_ts ON events (ts_ms);
CREATE INDEX events_type_ts ON events (type, ts_ms);

-- When the person's current conversation was started (its first question
-- asked), for conversation.completed's duration_ms; 0 once its end
-- (completed or abandoned) was announced, or for no conversation.
ALTER TABLE sessions ADD COLUMN started_ms BIGINT NOT NULL DEFAULT 0;
