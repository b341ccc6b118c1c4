-- GPUs (issue 15): whole GPUs a job needs, and each worker's devices.
ALTER TABLE jobs ADD COLUMN gpus int NOT NULL DEFAULT 0;
-- what released jobs hold of each environment's GPUs, read per pass
CREATE INDEX jobs_gpus_held ON jobs (compute_environment)
    WHERE released AND gpus > 0;
ALTER TABLE workers ADD COLUMN gpus_total int NOT NULL DEFAULT 0;
ALTER TABLE workers ADD COLUMN gpus_free int NOT NULL DEFAULT 0;
