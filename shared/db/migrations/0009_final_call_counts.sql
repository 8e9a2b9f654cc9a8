-- A finished campaign's calls, counted once: its calls no longer change (a late real result is
-- the one exception, and the statement that records it deletes the count, which the active
-- dispatcher then takes again). The campaign lists and the global metrics read these instead
-- of counting every call of every campaign ever run on each request.
CREATE TABLE final_call_counts (
    campaign_id    uuid PRIMARY KEY REFERENCES campaigns (id) ON DELETE CASCADE,
    -- Calls by status, e.g. {"COMPLETED": 9500, "PERMANENTLY_FAILED": 500}.
    by_status      jsonb NOT NULL,
    -- Dials beyond each call's first, added up.
    retries        bigint NOT NULL,
    -- Answered calls that reported a duration, and those durations added up.
    talked         bigint NOT NULL,
    talk_seconds   bigint NOT NULL,
    counted_at     timestamptz NOT NULL DEFAULT now()
);

-- Campaigns whose count must be taken again: a late real result changed one of their calls
-- after they were counted. Written in the same statement as that change.
CREATE TABLE recounts_due (
    campaign_id  uuid PRIMARY KEY
);
