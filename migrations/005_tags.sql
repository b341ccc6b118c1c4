-- Tags set with TagResource / UntagResource after creation. A resource's
-- tags are those it was created with, overlaid with these rows (value NULL:
-- removed).
CREATE TABLE resource_tags (
    arn    text NOT NULL,
    key    text NOT NULL,
    value  text,
    PRIMARY KEY (arn, key)
);
