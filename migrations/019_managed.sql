-- Managed compute environments (issue 18). The dispatcher's provisioner
-- (dispatcher/provision.c) computes each MANAGED environment's desired
-- capacity from the jobs that could run there and starts and stops the
-- workers that give it.
--   min_vcpus      computeResources.minvCpus (kept even while idle)
--   desired_vcpus  what the provisioner computed last (DescribeCompute
--                  Environments' desiredvCpus); NULL: not computed yet
--   desired_floor  desiredvCpus set by Create/UpdateComputeEnvironment,
--                  held for one idle period from desired_floor_at
--   worker_sizes   [{name, vcpus, memoryMiB, gpus}]: the sizes its workers
--                  may have (its instanceTypes in provisioner.sizes), which
--                  the scheduler compares a job's needs with
--   provision_error why its workers cannot be provisioned (status INVALID)
ALTER TABLE compute_environments ADD COLUMN min_vcpus double precision
    NOT NULL DEFAULT 0;
ALTER TABLE compute_environments ADD COLUMN desired_vcpus double precision;
ALTER TABLE compute_environments ADD COLUMN desired_floor double precision;
ALTER TABLE compute_environments ADD COLUMN desired_floor_at bigint;
ALTER TABLE compute_environments ADD COLUMN worker_sizes jsonb;
ALTER TABLE compute_environments ADD COLUMN provision_error text;

-- The workers a provisioner started and has not yet seen gone. The row is
-- written before the worker starts (state STARTING) and removed once it
-- is gone, so a provisioner that restarts finds every worker it owns.
--   host      where the process provisioner started it (it manages its own
--             host's processes only)
--   handle    how the provisioner finds it: "pid:start time" (process)
--   state     STARTING (not yet heard from), RUNNING (its heartbeat came),
--             STOPPING (told to drain and exit: SIGTERM)
--   idle_since when it last held no released job (NULL: busy)
--   stop_by   STOPPING: when it is killed if still there
CREATE TABLE provisioned_workers (
    worker_id           text PRIMARY KEY,
    compute_environment text NOT NULL,
    provisioner         text NOT NULL,
    size                text NOT NULL,
    vcpus               double precision NOT NULL,
    memory_mib          bigint NOT NULL,
    gpus                integer NOT NULL DEFAULT 0,
    host                text NOT NULL,
    handle              text,
    state               text NOT NULL DEFAULT 'STARTING',
    started_at          bigint NOT NULL,
    registered_at       bigint,
    idle_since          bigint,
    stop_by             bigint
);
CREATE INDEX provisioned_workers_ce ON provisioned_workers
    (compute_environment);
CREATE SEQUENCE provisioned_worker_seq;
