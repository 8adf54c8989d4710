-- 003: DHIS2 Tracker enrolment, owned by ciu-dhis2-bridge.
--
-- ciu-engine inserts one dhis2_sync row per issued CIU (status 'queued');
-- from then on only the bridge writes it: 'pending' (accepted, waiting or
-- being retried) -> 'synced' (the person is in DHIS2, enrolled) or
-- 'failed' (DHIS2 refused it; `ciu-admin dhis2 retry --failed` re-queues).

-- The tracked entity: generated (with the enrollment UID) and stored before
-- the first import, so a retry after a lost answer cannot create a second
-- person; replaced by the existing one when the CIU was found in DHIS2.
ALTER TABLE dhis2_sync ADD COLUMN te_uid TEXT;
ALTER TABLE dhis2_sync ADD COLUMN enrollment_uid TEXT;
-- Org unit of the tracked entity once synced (echoed when it is flagged).
ALTER TABLE dhis2_sync ADD COLUMN org_unit TEXT;
-- 1: the person already existed in DHIS2 and was linked, not created.
ALTER TABLE dhis2_sync ADD COLUMN linked INTEGER NOT NULL DEFAULT 0;
-- E1064 (CIU already held by another tracked entity) answers seen: search again.
ALTER TABLE dhis2_sync ADD COLUMN conflicts INTEGER NOT NULL DEFAULT 0;
-- Claim: one bridge (replica) works on a row until lease_until (ms).
ALTER TABLE dhis2_sync ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE dhis2_sync ADD COLUMN lease_owner TEXT;
-- The last answer: HTTP status (0: none) and DHIS2's error codes (E1000,...).
ALTER TABLE dhis2_sync ADD COLUMN http_status INTEGER;
ALTER TABLE dhis2_sync ADD COLUMN error_codes TEXT;
ALTER TABLE dhis2_sync ADD COLUMN synced_ms BIGINT;
CREATE INDEX dhis2_sync_updated ON dhis2_sync (status, updated_ms);

-- Each potential duplicate recorded by ciu-engine (table duplicates, which
-- the bridge only reads), as sent to DHIS2: a pair of tracked entities
-- (POST /api/potentialDuplicates) or one tracked entity flagged.
-- status: pending, flagged, merged, skipped (nothing to send), failed.
CREATE TABLE dhis2_duplicates (
    id {{ID}},
    duplicate_id BIGINT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    ciu TEXT NOT NULL,
    other_ciu TEXT,
    status TEXT NOT NULL,
    original_te TEXT,
    duplicate_te TEXT,
    dhis2_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_ms BIGINT NOT NULL,
    lease_until BIGINT NOT NULL DEFAULT 0,
    lease_owner TEXT,
    http_status INTEGER,
    last_error TEXT,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE INDEX dhis2_duplicates_due ON dhis2_duplicates (status, next_ms);

-- What each bridge replica knows of DHIS2, for `ciu-admin dhis2 status`:
-- state not_configured, connecting, up, open (circuit open) or paused
-- (credentials refused), the server's version, the reason.
CREATE TABLE dhis2_bridges (
    replica TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    version TEXT,
    detail TEXT,
    since_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
