-- One name per concept. A worker's heartbeat counts the leases on lines it holds (LeaseLine
-- messages it has not acknowledged), which this column called jobs.
ALTER TABLE workers RENAME COLUMN held_jobs TO leases_held;

-- Attempt outcomes are ours, spelled as the call statuses are: CANCELLED (the carriers'
-- CANCELED stays at their edge). The history is append-only; this rewrite of one spelling is
-- the one exception, so the guard is lifted for it alone, inside this migration's transaction.
ALTER TABLE call_attempts DISABLE TRIGGER call_attempts_write_once;
UPDATE call_attempts SET outcome = 'CANCELLED' WHERE outcome = 'CANCELED';
ALTER TABLE call_attempts ENABLE TRIGGER call_attempts_write_once;
