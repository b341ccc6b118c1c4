-- DeleteJobQueue as AWS does it: the queue goes DELETING, the dispatcher
-- terminates its jobs, and the queue is gone once none is left unfinished.
ALTER TABLE job_queues ADD COLUMN status text NOT NULL DEFAULT 'VALID';
