-- Tags belong to the resource, not to the text of the ARN a caller used:
-- resource_tags.arn now holds the resource's key ("job-queue/q",
-- "job-definition/d:3", "job/<id>"), whatever region, account or revision
-- spelling named it. Rows written under full ARNs are rekeyed (the first
-- of two spellings of one resource wins).
INSERT INTO resource_tags (arn, key, value)
SELECT regexp_replace(arn, '^arn:[^:]*:[^:]*:[^:]*:[^:]*:', ''), key, value
  FROM resource_tags WHERE arn LIKE 'arn:%'
ON CONFLICT (arn, key) DO NOTHING;
DELETE FROM resource_tags WHERE arn LIKE 'arn:%';
-- a definition tagged through an unversioned ARN: its latest revision's
UPDATE resource_tags t SET arn = t.arn || ':' || d.rev
  FROM (SELECT name, max(revision) AS rev FROM job_definitions GROUP BY name) d
 WHERE t.arn = 'job-definition/' || d.name
   AND NOT EXISTS (SELECT 1 FROM resource_tags x
                    WHERE x.arn = t.arn || ':' || d.rev AND x.key = t.key);
DELETE FROM resource_tags WHERE arn ~ '^job-definition/[^:]+$';
COMMENT ON COLUMN resource_tags.arn IS 'the resource''s key: KIND/NAME';
