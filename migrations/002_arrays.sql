-- Array jobs. Children are rows "<parent>:<index>" that share the parent's
-- resolved spec (resolved stays NULL on a child). SEQUENTIAL and N_TO_N
-- edges are derived from the parent's flags and its N_TO_N rows in
-- job_dependencies, never stored per child.
ALTER TABLE jobs ADD COLUMN array_sequential boolean NOT NULL DEFAULT false;
ALTER TABLE jobs ADD COLUMN children_succeeded integer NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN children_failed integer NOT NULL DEFAULT 0;
CREATE INDEX jobs_array_children ON jobs (array_parent, array_index)
    WHERE array_parent IS NOT NULL;
