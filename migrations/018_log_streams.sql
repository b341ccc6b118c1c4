-- Job output through the CloudWatch Logs API (issue 17): each attempt's
-- log stream is named as AWS Batch names it, <definition name>/default/<id>
-- (log group /aws/batch/job), by the dispatcher when it releases the
-- attempt - never by a worker - and GetLogEvents finds the attempt by it.
CREATE INDEX attempts_log_stream ON attempts (log_stream)
    WHERE log_stream IS NOT NULL;
