-- Per-worker placement (issue 15): the dispatcher sends each released job
-- to a partition of the run topic that a worker with room holds.
-- the partitions of its environment's run topic the worker consumes, as
-- its last heartbeat said
ALTER TABLE workers ADD COLUMN partitions int[] NOT NULL DEFAULT '{}';
-- the worker a released job was sent to (NULL: to any, by its key); the
-- worker that claims it (attempts.worker) is the one that holds it
ALTER TABLE jobs ADD COLUMN placed_worker text;
-- the partition a queued message goes to (NULL: by its key)
ALTER TABLE outbox ADD COLUMN partition int;
