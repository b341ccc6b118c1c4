-- Jobs are referenced by name as well as by id (dependsOn, CancelJob,
-- TerminateJob, the CLI's wait and logs): the newest job of a name in a
-- queue is found by this index.
CREATE INDEX jobs_name ON jobs (queue, job_name, seq) WHERE array_parent IS NULL;
