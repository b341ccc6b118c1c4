-- Consumable resources (issue 15): licences, connections, API quotas a
-- job needs besides vCPUs and memory, and what each job needs of them.
CREATE TABLE consumable_resources (
    name            text PRIMARY KEY,
    resource_type   text NOT NULL
        CHECK (resource_type IN ('REPLENISHABLE', 'NON_REPLENISHABLE')),
    -- a NON_REPLENISHABLE resource's total goes down by what each released
    -- job takes; a REPLENISHABLE one's only by UpdateConsumableResource
    total_quantity  bigint NOT NULL CHECK (total_quantity >= 0),
    tags            jsonb NOT NULL DEFAULT '{}',
    created_at      bigint NOT NULL
);
-- what the job needs, [{consumableResource: name, quantity}] (names, never
-- ARNs); NULL: nothing. Array children carry their parent's.
ALTER TABLE jobs ADD COLUMN consumables jsonb;
-- what released jobs hold: the scheduler's in-use figure, read per pass
CREATE INDEX jobs_consumables_held ON jobs (job_id)
    WHERE released AND consumables IS NOT NULL;
-- ListJobsByConsumableResource: containment of {consumableResource: name}
CREATE INDEX jobs_consumables ON jobs USING gin (consumables jsonb_path_ops)
    WHERE consumables IS NOT NULL;
-- UpdateConsumableResource's clientToken: the same request within 8 hours
-- is answered again, not applied again
CREATE TABLE consumable_updates (
    client_token    text PRIMARY KEY,
    request         jsonb NOT NULL,
    response        jsonb NOT NULL,
    at              bigint NOT NULL
);
