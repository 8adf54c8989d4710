-- 004: one owning stage per table, shard buckets for the scans, idempotent
-- engine writes, retry-safe flood protection.

-- The shard bucket (cmn_shard_bucket: FNV-1a of the key modulo 1024) of
-- every row a stage scans for pending work, filled at insert. Replica i of n
-- scans `WHERE shard % n = i`, so the filter runs before the LIMIT. Rows
-- already stored are filled by the migration step in cmn_store_migrate.c
-- (FNV-1a is not portable SQL).
ALTER TABLE inbox ADD COLUMN shard INTEGER;
ALTER TABLE outbox ADD COLUMN shard INTEGER;
ALTER TABLE ciu_requests ADD COLUMN shard INTEGER;
ALTER TABLE dhis2_sync ADD COLUMN shard INTEGER;

-- Sessions (owned by ciu-conversation) carry a version: a write is
-- conditional on the version read in the same transaction.
ALTER TABLE sessions ADD COLUMN version BIGINT NOT NULL DEFAULT 0;

-- Flood protection per person (owned by ciu-conversation), counted by the
-- messages' arrival time, in the transaction that handles them: a retried
-- or replayed transaction counts nothing twice.
CREATE TABLE flood (
    user_key TEXT PRIMARY KEY,
    window_start_ms BIGINT NOT NULL,
    msg_count INTEGER NOT NULL,
    blocked_until_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE INDEX flood_updated ON flood (updated_ms);

-- CIUs issued, for the conversation to end the session (inserted by
-- ciu-engine, consumed and deleted by ciu-conversation): the engine never
-- writes the conversation's sessions.
CREATE TABLE ciu_done (
    id {{ID}},
    request_id BIGINT NOT NULL UNIQUE,
    user_key TEXT NOT NULL,
    shard INTEGER NOT NULL,
    created_ms BIGINT NOT NULL,
    trace TEXT NOT NULL
);
CREATE INDEX ciu_done_user ON ciu_done (user_key, id);

-- A potential duplicate is recorded once (INSERT ... ON CONFLICT DO NOTHING).
DELETE FROM duplicates WHERE id NOT IN
    (SELECT min(id) FROM duplicates GROUP BY kind, ciu, user_key);
CREATE UNIQUE INDEX duplicates_once ON duplicates (kind, ciu, user_key);

-- The CIU a number had before its last one, set by the same upsert that
-- records the new one (ON CONFLICT ... RETURNING, no read first).
ALTER TABLE user_cius ADD COLUMN prev_ciu TEXT;

-- QR media: the CIU (to write the image again) and whether the file is
-- known to be on disk. The engine writes the file after its commit; a scan
-- writes the files a crash left unwritten.
ALTER TABLE media ADD COLUMN ciu TEXT;
ALTER TABLE media ADD COLUMN written INTEGER NOT NULL DEFAULT 1;
CREATE INDEX media_unwritten ON media (written, expires_ms);
