-- 001: the durable pipeline. Every stage writes its work here in one
-- transaction with its effects; ZeroMQ messages only wake the next stage.
-- {{ID}} is an auto-increment primary key, per backend.

-- Messages received from people, committed before the webhook is answered.
CREATE TABLE inbox (
    id {{ID}},
    msg_id TEXT NOT NULL UNIQUE,
    channel TEXT NOT NULL,
    provider_id TEXT,
    user_key TEXT NOT NULL,
    from_addr TEXT,
    kind TEXT NOT NULL,
    body TEXT,
    received_ms BIGINT NOT NULL,
    trace TEXT NOT NULL,
    status INTEGER NOT NULL DEFAULT 0,
    processed_ms BIGINT
);
CREATE UNIQUE INDEX inbox_provider ON inbox (channel, provider_id);
CREATE INDEX inbox_pending ON inbox (status, id);
CREATE INDEX inbox_user ON inbox (user_key, status, id);

-- One conversation per person (keyed hash of the number); codes only.
CREATE TABLE sessions (
    user_key TEXT PRIMARY KEY,
    lang TEXT NOT NULL,
    step INTEGER NOT NULL,
    return_step INTEGER NOT NULL DEFAULT 0,
    c_last TEXT,
    c_first TEXT,
    c_year TEXT,
    c_city TEXT,
    c_gender TEXT,
    updated_ms BIGINT NOT NULL
);
CREATE INDEX sessions_updated ON sessions (updated_ms);

-- Replies waiting for, or past, delivery (transactional outbox).
CREATE TABLE outbox (
    id {{ID}},
    msg_id TEXT NOT NULL UNIQUE,
    channel TEXT NOT NULL,
    user_key TEXT NOT NULL,
    to_addr TEXT,
    body TEXT NOT NULL,
    media_url TEXT,
    status INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_ms BIGINT NOT NULL,
    created_ms BIGINT NOT NULL,
    sent_ms BIGINT,
    provider_id TEXT,
    last_error TEXT,
    trace TEXT NOT NULL
);
CREATE INDEX outbox_pending ON outbox (status, next_ms, id);
CREATE INDEX outbox_user ON outbox (user_key, status, id);

-- Confirmed answers (codes) waiting for the CIU engine.
CREATE TABLE ciu_requests (
    id {{ID}},
    req_id TEXT NOT NULL UNIQUE,
    user_key TEXT NOT NULL,
    channel TEXT NOT NULL,
    to_addr TEXT,
    lang TEXT NOT NULL,
    c_last TEXT,
    c_first TEXT,
    c_year TEXT,
    c_city TEXT,
    c_gender TEXT,
    status INTEGER NOT NULL DEFAULT 0,
    ciu TEXT,
    created_ms BIGINT NOT NULL,
    done_ms BIGINT,
    trace TEXT NOT NULL
);
CREATE INDEX ciu_requests_pending ON ciu_requests (status, id);

-- Every CIU issued, once.
CREATE TABLE registry (
    ciu TEXT PRIMARY KEY,
    reg_key TEXT NOT NULL,
    first_user_key TEXT NOT NULL,
    request_count INTEGER NOT NULL,
    first_ms BIGINT NOT NULL,
    last_ms BIGINT NOT NULL
);

-- The last CIU obtained by each number (CODE command, duplicate detection).
CREATE TABLE user_cius (
    user_key TEXT PRIMARY KEY,
    ciu TEXT NOT NULL,
    updated_ms BIGINT NOT NULL
);

-- Potential duplicates, for review and later for DHIS2.
CREATE TABLE duplicates (
    id {{ID}},
    kind TEXT NOT NULL,
    ciu TEXT NOT NULL,
    other_ciu TEXT,
    user_key TEXT NOT NULL,
    other_user_key TEXT,
    created_ms BIGINT NOT NULL,
    status TEXT NOT NULL
);
CREATE INDEX duplicates_ciu ON duplicates (ciu);

-- DHIS2 enrolment work: queued by the engine, accepted by the bridge.
CREATE TABLE dhis2_sync (
    id {{ID}},
    ciu TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_ms BIGINT NOT NULL,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    last_error TEXT,
    trace TEXT NOT NULL
);
CREATE INDEX dhis2_sync_status ON dhis2_sync (status, next_ms);

-- The simulator channel's mailbox: what the bot sent to simulated numbers.
CREATE TABLE sim_messages (
    id {{ID}},
    user_key TEXT NOT NULL,
    outbox_id BIGINT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    media_url TEXT,
    created_ms BIGINT NOT NULL
);
CREATE INDEX sim_messages_user ON sim_messages (user_key, id);

-- Generated media (QR PNG files under CIU_DATA_DIR/media) behind
-- unguessable, expiring tokens.
CREATE TABLE media (
    token TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    content_type TEXT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX media_expires ON media (expires_ms);
