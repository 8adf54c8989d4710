-- 005: a family on one phone (issue 11).

-- A registration started with AUTRE / ANOTHER PERSON registers another
-- person from the same number: the conversation keeps the mark in the
-- session (it owns sessions) and passes it with the request; the engine
-- then does not record "one number obtaining a different CIU".
ALTER TABLE sessions ADD COLUMN other_person INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ciu_requests ADD COLUMN other_person INTEGER NOT NULL DEFAULT 0;

-- Every CIU a number obtained (owned by ciu-engine; the conversation reads
-- it to answer CODE with the household's codes). user_key is the keyed hash
-- of the number, as everywhere.
CREATE TABLE number_cius (
    user_key TEXT NOT NULL,
    ciu TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (user_key, ciu)
);
INSERT INTO number_cius (user_key, ciu, created_ms) SELECT user_key, ciu, updated_ms FROM user_cius;
