-- Sharing a global line capacity among campaigns, pacing call setups, and the workers'
-- heartbeats for the metrics.

-- Lines the dispatcher allows the campaign now: its share of the global capacity (at most its
-- own limit). Workers claim a line only below it.
ALTER TABLE campaigns ADD COLUMN allowed_lines integer NOT NULL DEFAULT 0
    CHECK (allowed_lines >= 0);
-- Call setups a second, for carriers that cap them; null: as fast as lines allow.
ALTER TABLE campaigns ADD COLUMN calls_per_second double precision
    CHECK (calls_per_second IS NULL OR calls_per_second > 0);

-- Calls in progress across all campaigns: the fence that holds VCS_MAX_CONCURRENT_CALLS,
-- counted in 16 slots, each holding its part of the capacity so that the parts add up to the
-- whole. One row would make every claim and every ending in the system wait for each other;
-- a claim takes whichever slot with room is not locked (SKIP LOCKED), and an attempt records
-- its slot to give the line back there.
CREATE TABLE line_slots (
    slot       smallint PRIMARY KEY CHECK (slot >= 0 AND slot < 16),
    in_flight  integer NOT NULL DEFAULT 0 CHECK (in_flight >= 0)
);
INSERT INTO line_slots (slot) SELECT generate_series(0, 15);
UPDATE line_slots SET in_flight = (SELECT coalesce(sum(in_flight), 0) FROM campaigns)
WHERE slot = 0;
ALTER TABLE line_slots SET (autovacuum_vacuum_scale_factor = 0.0, autovacuum_vacuum_threshold = 1000);
ALTER TABLE call_attempts ADD COLUMN line_slot smallint NOT NULL DEFAULT 0;

CREATE TABLE workers (
    worker_id     text PRIMARY KEY,
    seen_at       timestamptz NOT NULL,
    held_jobs     integer NOT NULL,
    breaker_state text NOT NULL
);

-- Statistics: a campaign's attempts over time, and everyone's recent attempts (BRIN: attempts
-- are written in start order, so a tiny index finds the last minutes).
CREATE INDEX call_attempts_by_campaign_start ON call_attempts (campaign_id, started_at);
CREATE INDEX call_attempts_by_start ON call_attempts USING brin (started_at);
