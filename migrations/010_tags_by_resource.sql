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
COMMENT ON COLUMN resource_tags.arn IS 'the resource''s key: KIND/NAME';
