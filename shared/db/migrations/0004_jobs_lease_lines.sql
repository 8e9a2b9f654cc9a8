-- A PlaceCall job now holds its line for several calls in a row (a lease), so one job starts
-- many attempts, one at a time: at most one open attempt per job.
ALTER TABLE call_attempts DROP CONSTRAINT call_attempts_job_id_key;
-- Named by `outcome` (set with `ended_at`), not `ended_at`: see call_attempts_open_by_deadline.
CREATE UNIQUE INDEX call_attempts_one_open_per_job ON call_attempts (job_id)
    WHERE outcome IS NULL AND timed_out_at IS NULL;
