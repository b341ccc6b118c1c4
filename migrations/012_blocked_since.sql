-- When a RUNNABLE job's blocking reason (statusReason while it waits) was
-- first given: jobStateTimeLimitActions count from it, not from when the
-- job became RUNNABLE. NULL once released.
ALTER TABLE jobs ADD COLUMN blocked_since bigint;
