-- Per-worker placement (issue 15): the dispatcher sends each released job
-- to a partition of the run topic that a worker with room holds.
-- the partitions of its environment's run topic the worker consumes, as
-- its last heartbeat said
ALTER TABLE workers ADD COLUMN partitions int[] NOT NULL DEFAULT '{}';
-- the worker that holds a released job: the one it was sent to, then the
-- one that claimed it (NULL: sent to any, by its key, and not claimed)
ALTER TABLE jobs ADD COLUMN placed_worker text;
-- what each worker holds, read when the dispatcher (re)loads capacity
CREATE INDEX jobs_placed ON jobs (placed_worker)
    WHERE released AND placed_worker IS NOT NULL;
-- what each share of a fair-share queue holds (the usage accrual and the
-- share order): without it both read every job each pass
CREATE INDEX jobs_share_held ON jobs (queue, share_identifier)
    WHERE released AND share_identifier IS NOT NULL;
-- the partition a queued message goes to (NULL: by its key)
ALTER TABLE outbox ADD COLUMN partition int;
