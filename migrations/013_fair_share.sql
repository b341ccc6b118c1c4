-- Fair-share scheduling (issue 15): scheduling policies, the queues that
-- use one, each job's share and each share's decayed usage.
CREATE TABLE scheduling_policies (
    name        text PRIMARY KEY,
    spec        jsonb NOT NULL,   -- {fairsharePolicy, tags} as accepted
    created_at  bigint NOT NULL
);
-- NULL: a FIFO queue. Set at creation only; replaced, never removed (AWS).
ALTER TABLE job_queues ADD COLUMN scheduling_policy text
    REFERENCES scheduling_policies (name);
-- when the dispatcher last released one of the queue's jobs (each release
-- moves the jobs behind it up: GetJobQueueSnapshot's earliestTimeAtPosition)
ALTER TABLE job_queues ADD COLUMN released_at bigint;
ALTER TABLE jobs ADD COLUMN share_identifier text;
-- the fair-share release: the head of each share of a queue
CREATE INDEX jobs_share_release ON jobs (queue, share_identifier,
    scheduling_priority DESC, seq)
    WHERE status = 'RUNNABLE' AND NOT released AND share_identifier IS NOT NULL;
-- the shares of a queue with unfinished jobs (at most 500 per queue)
CREATE INDEX jobs_share_active ON jobs (queue, share_identifier)
    WHERE share_identifier IS NOT NULL AND status NOT IN ('SUCCEEDED', 'FAILED');
-- vCPU-seconds a share of a queue used, decayed (half-life: the policy's
-- shareDecaySeconds) to updated_at; the dispatcher accrues what the
-- share's released jobs hold.
CREATE TABLE share_usage (
    queue       text NOT NULL REFERENCES job_queues (name) ON DELETE CASCADE,
    share       text NOT NULL,
    usage       double precision NOT NULL DEFAULT 0,
    updated_at  bigint NOT NULL,
    PRIMARY KEY (queue, share)
);
