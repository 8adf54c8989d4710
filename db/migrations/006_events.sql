-- 006: events kept in the store (issue 10).
--
-- Every event a daemon publishes is also written here, in the transaction
-- of the work it reports, so a consumer that was not running can replay
-- what it missed (ciu-tap --since) and the dashboard can count
-- conversations. Append-only: each stage inserts its own events; only the
-- retention purge (ciu-admin purge, CIU_RETENTION_DAYS) deletes. `seq` is
-- the replay cursor; `id` the event's own id (as published); `body` the
-- msgpack map exactly as published (no phone number, no answer in clear).
CREATE TABLE events (
    seq {{ID}},
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    ts_ms BIGINT NOT NULL,
    body {{BLOB}} NOT NULL
);
CREATE INDEX events_ts ON events (ts_ms);
CREATE INDEX events_type_ts ON events (type, ts_ms);
