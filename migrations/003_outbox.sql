-- The dispatcher's outbox: every message a transaction produces (events,
-- run requests, stop requests, DLQ records) is written here in that same
-- transaction, published after COMMIT, and deleted once Kafka confirmed
-- delivery. A dispatcher that dies in between re-publishes the rows on
-- start, so nothing is lost (consumers deduplicate: at least once).
CREATE TABLE outbox (
    id       bigserial PRIMARY KEY,
    topic    text NOT NULL,
    key      text,
    payload  bytea NOT NULL,
    headers  jsonb
);
