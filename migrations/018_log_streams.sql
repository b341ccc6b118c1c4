-- Job output through the CloudWatch Logs API (issue 17): each attempt's
-- log stream is named as AWS Batch names it, <definition name>/default/<id>
-- (log group /aws/batch/job), by the dispatcher when it releases the
-- attempt - never by a worker. GetLogEvents finds the attempt by it, and
-- DescribeLogStreams lists streams by prefix in name order: the index is
-- in the "C" collation (byte order), which serves =, LIKE 'prefix%' and
-- ORDER BY alike; the queries name the same collation.
CREATE INDEX attempts_log_stream ON attempts ((log_stream COLLATE "C"))
    WHERE log_stream IS NOT NULL;
