-- Jobs are referenced by name as well as by id (dependsOn, CancelJob,
-- TerminateJob, the CLI's wait and logs): the newest job of a name, in a
-- queue or in any, is found by this index (by name first: CancelJob names
-- no queue).
CREATE INDEX jobs_name ON jobs (job_name, seq) WHERE array_parent IS NULL;
