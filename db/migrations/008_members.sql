-- 008: replicas that find each other through the store (issue 9).
--
-- With CIU_DISCOVERY=store every replica of a stage (conversation, engine,
-- dhis2, sender) keeps one row here: the endpoint its PULL is reached at,
-- its PUB endpoint, and a heartbeat. The live rows of a stage, ordered by
-- member, are its replicas in shard order: replica i of n owns the people
-- whose shard bucket % n = i, the stages before it push each wake-up to
-- the replica that owns it, and a replica whose heartbeat stops is dropped
-- after CIU_MEMBER_TTL_MS, so the others take its people over. Each
-- replica writes only its own row.
CREATE TABLE stage_members (
    stage TEXT NOT NULL,
    member TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    events TEXT NOT NULL DEFAULT '',
    started_ms BIGINT NOT NULL,
    heartbeat_ms BIGINT NOT NULL,
    PRIMARY KEY (stage, member)
);
