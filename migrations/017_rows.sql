-- Set-wise statements (issue 16) take their rows as one JSON array. The
-- planner takes any set-returning builtin (jsonb_to_recordset,
-- jsonb_array_elements) for 100 rows, and with tens of thousands of jobs
-- a join of 100 rows is cheaper by hash with a sequential scan of jobs
-- than through the primary key: a statement of one report then read the
-- whole table (14 ms per sequential-array link instead of 7). This
-- function says 10: every join of those rows goes through the primary
-- key, which is right for 1 row and for 1,000 on a table of any size.
-- PL/pgSQL, so that it is not inlined (an inlined SQL function is
-- estimated as what it calls).
CREATE FUNCTION drover_rows(rows jsonb) RETURNS SETOF jsonb
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE ROWS 10
    AS $$ BEGIN RETURN QUERY SELECT jsonb_array_elements(rows); END $$;
