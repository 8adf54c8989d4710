-- 007: indexes for the programme dashboard and `ciu-admin stats` (read only;
-- common/src/cmn_stats.c runs the queries, docs/dashboard.md explains them).

-- Registrations per day and per week: the registry by first issue time.
CREATE INDEX registry_first ON registry (first_ms);
-- Open duplicates for review, oldest first.
CREATE INDEX duplicates_status ON duplicates (status, id);
-- Oldest waiting item per stage: MIN(created_ms) for one status reads one
-- index entry.
CREATE INDEX outbox_status_created ON outbox (status, created_ms);
CREATE INDEX dhis2_sync_status_created ON dhis2_sync (status, created_ms);
-- Delivery statuses reported by the providers, counted by status.
CREATE INDEX deliveries_rank ON deliveries (status_rank, channel, error_code);
