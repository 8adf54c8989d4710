-- 002: WhatsApp channels (Twilio, Meta) in and out.

-- The sender claims a reply (status 3 = in flight) with a lease, calls the
-- provider outside any transaction, then records the outcome; a sender that
-- dies mid-call leaves the row to be retried once the lease expires.
-- status: 0 pending, 1 accepted by the provider, 2 failed (final), 3 in flight.
ALTER TABLE outbox ADD COLUMN lease_ms BIGINT NOT NULL DEFAULT 0;
-- Interactive form of a reply for channels that have one (Meta): "gender"
-- (a list of the four choices) or "confirm" (two reply buttons). The body
-- always holds the plain-text form with numbered choices.
ALTER TABLE outbox ADD COLUMN ui TEXT;
-- The provider's error code of the last failed attempt (e.g. 131026).
ALTER TABLE outbox ADD COLUMN error_code TEXT;
-- Calls made again after a lease expired (possible duplicates).
ALTER TABLE outbox ADD COLUMN resends INTEGER NOT NULL DEFAULT 0;
CREATE INDEX outbox_provider ON outbox (provider_id);
CREATE INDEX outbox_lease ON outbox (status, lease_ms);

-- Delivery statuses reported by the providers (owned by ciu-ingress): the
-- furthest status each sent message reached. A status never moves back.
CREATE TABLE deliveries (
    channel TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    status TEXT NOT NULL,
    status_rank INTEGER NOT NULL,
    error_code TEXT,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (channel, provider_id)
);

-- Each (message, status) pair received, so a redelivered status callback is
-- acknowledged once (owned by ciu-ingress; purged with the outbox).
CREATE TABLE delivery_events (
    channel TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    status TEXT NOT NULL,
    received_ms BIGINT NOT NULL,
    PRIMARY KEY (channel, provider_id, status)
);

-- Media uploaded to a provider once and sent by id (Meta), per media token
-- (owned by ciu-sender).
CREATE TABLE channel_media (
    channel TEXT NOT NULL,
    token TEXT NOT NULL,
    media_id TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (channel, token)
);

-- A paused channel (bad or expired credentials), so every sender replica
-- and the operator see it (owned by ciu-sender).
CREATE TABLE channel_state (
    channel TEXT PRIMARY KEY,
    paused INTEGER NOT NULL,
    reason TEXT,
    updated_ms BIGINT NOT NULL
);
