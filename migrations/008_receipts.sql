-- Read-your-writes. A client (CLI, library, gateway) that has submitted a
-- job writes its receipt once Kafka has acknowledged the SubmitJob, before
-- it answers: from then on DescribeJobs and ListJobs show the job
-- (SUBMITTED) and a dependsOn may name it, whatever the dispatcher's lag
-- or whether it runs at all. The dispatcher deletes the receipt in the
-- transaction that records the job; a receipt written after that (the
-- dispatcher was faster than the client) is swept. A receipt exists only
-- for a record Kafka holds, so a job with one will be recorded.
CREATE TABLE job_receipts (
    job_id          text PRIMARY KEY,
    job_name        text NOT NULL,
    queue           text NOT NULL,
    definition      text NOT NULL,     -- name:revision, as checked
    array_size      integer,
    submitted_at    bigint NOT NULL,
    seq             bigint NOT NULL DEFAULT nextval('jobs_seq_seq'),
                                       -- arrival order, kept by its job
    request         jsonb NOT NULL,    -- the SubmitJob as produced
    resolved        jsonb              -- as the check resolved it
);
CREATE INDEX job_receipts_queue ON job_receipts (queue, submitted_at);
CREATE INDEX job_receipts_name ON job_receipts (job_name, seq);
