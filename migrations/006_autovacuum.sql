-- Every job row is updated several times on its way to SUCCEEDED and
-- every outbox row is deleted once Kafka has it: with the default
-- autovacuum thresholds (20% of the table) the dead entries of the partial
-- indexes that the dispatcher walks (jobs_release, jobs_in_flight) and the
-- outbox pile up for a long time on a busy system. Vacuum these tables
-- after a fixed, small amount of churn instead.
ALTER TABLE jobs SET (autovacuum_vacuum_scale_factor = 0.0,
                      autovacuum_vacuum_threshold = 20000,
                      autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE attempts SET (autovacuum_vacuum_scale_factor = 0.05);
ALTER TABLE outbox SET (autovacuum_vacuum_scale_factor = 0.0,
                        autovacuum_vacuum_threshold = 10000);
