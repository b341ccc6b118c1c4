-- Worker leases and attempt ownership.
-- An attempt belongs to the first worker process (worker id + its start
-- time) that claimed it; reports from any other are fenced. A worker whose
-- heartbeats stop for the lease, or that comes back as a new process, loses
-- the attempts it held (host lost).
ALTER TABLE attempts ADD COLUMN worker_started_at bigint;
ALTER TABLE workers ADD COLUMN seen_at bigint NOT NULL DEFAULT 0;
ALTER TABLE workers ADD COLUMN lost boolean NOT NULL DEFAULT false;
CREATE INDEX attempts_live_by_worker ON attempts (worker)
    WHERE stopped_at IS NULL;
