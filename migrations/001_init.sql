-- Drover's first schema. Times are epoch milliseconds (bigint), as in the
-- AWS Batch API. The dispatcher is the only writer of jobs and attempts;
-- producers write definitions, queues and compute environments.

CREATE TABLE compute_environments (
    name            text PRIMARY KEY,
    type            text NOT NULL DEFAULT 'UNMANAGED',
    state           text NOT NULL DEFAULT 'ENABLED',
    max_vcpus       double precision NOT NULL,
    max_memory_mib  bigint,           -- NULL: no memory budget
    spec            jsonb NOT NULL,   -- the create request as given
    created_at      bigint NOT NULL
);

CREATE TABLE job_queues (
    name        text PRIMARY KEY,
    state       text NOT NULL DEFAULT 'ENABLED',
    priority    integer NOT NULL,
    spec        jsonb NOT NULL,
    created_at  bigint NOT NULL
);

CREATE TABLE job_queue_compute_environments (
    queue                text NOT NULL REFERENCES job_queues ON DELETE CASCADE,
    ord                  integer NOT NULL,
    compute_environment  text NOT NULL REFERENCES compute_environments,
    PRIMARY KEY (queue, ord)
);

CREATE TABLE job_definitions (
    name        text NOT NULL,
    revision    integer NOT NULL,
    status      text NOT NULL DEFAULT 'ACTIVE',
    spec        jsonb NOT NULL,       -- the RegisterJobDefinition request
    created_at  bigint NOT NULL,
    PRIMARY KEY (name, revision)
);

CREATE TABLE jobs (
    job_id               text PRIMARY KEY,
    seq                  bigserial UNIQUE,      -- arrival order
    job_name             text NOT NULL,
    queue                text NOT NULL,
    definition_name      text,
    definition_revision  integer,
    status               text NOT NULL,
    status_reason        text,
    created_at           bigint NOT NULL,
    started_at           bigint,
    stopped_at           bigint,
    updated_at           bigint NOT NULL,
    request              jsonb NOT NULL,        -- the SubmitJob as received
    resolved             jsonb,                 -- container, retry, timeout
    vcpus                double precision NOT NULL DEFAULT 0,
    memory_mib           bigint NOT NULL DEFAULT 0,
    attempts             integer NOT NULL DEFAULT 0,
    max_attempts         integer NOT NULL DEFAULT 1,
    deps_pending         integer NOT NULL DEFAULT 0,
    released             boolean NOT NULL DEFAULT false, -- current attempt handed to a worker
    compute_environment  text,
    exit_code            integer,
    reason               text,                  -- container reason
    is_cancelled         boolean NOT NULL DEFAULT false,
    is_terminated        boolean NOT NULL DEFAULT false,
    scheduling_priority  integer NOT NULL DEFAULT 0,
    array_parent         text,
    array_index          integer,
    array_size           integer
);
-- the release query: runnable, not yet handed out, by priority then age
CREATE INDEX jobs_release ON jobs (queue, scheduling_priority DESC, seq)
    WHERE status = 'RUNNABLE' AND NOT released;
CREATE INDEX jobs_in_flight ON jobs (compute_environment)
    WHERE released;
CREATE INDEX jobs_by_queue_status ON jobs (queue, status, created_at DESC);
CREATE INDEX jobs_waiting ON jobs (created_at) WHERE status = 'SUBMITTED';

-- explicit dependency edges only (derived array edges are never stored)
CREATE TABLE job_dependencies (
    job_id      text NOT NULL,
    depends_on  text NOT NULL,
    type        text,
    PRIMARY KEY (job_id, depends_on)
);
CREATE INDEX job_dependencies_reverse ON job_dependencies (depends_on);

CREATE TABLE attempts (
    job_id          text NOT NULL REFERENCES jobs ON DELETE CASCADE,
    attempt         integer NOT NULL,
    worker          text,
    container_id    text,
    exit_code       integer,
    reason          text,
    status_reason   text,
    released_at     bigint NOT NULL,
    started_at      bigint,
    stopped_at      bigint,
    log_stream      text,
    PRIMARY KEY (job_id, attempt)
);

-- consumed offsets, committed in the same transaction as their effects
CREATE TABLE kafka_offsets (
    consumer_group  text NOT NULL,
    topic           text NOT NULL,
    partition       integer NOT NULL,
    next_offset     bigint NOT NULL,
    PRIMARY KEY (consumer_group, topic, partition)
);

CREATE TABLE workers (
    worker_id            text PRIMARY KEY,
    compute_environment  text NOT NULL,
    vcpus_total          double precision NOT NULL,
    vcpus_free           double precision NOT NULL,
    memory_total_mib     bigint NOT NULL,
    memory_free_mib      bigint NOT NULL,
    started_at           bigint NOT NULL,
    last_heartbeat       bigint NOT NULL,
    draining             boolean NOT NULL DEFAULT false
);
