-- Do-not-call lists and frequency caps (docs/suppressions.md, docs/frequency-caps.md).

-- One entry per number per list: the global list (campaign_id null) or a campaign's. Numbers
-- are E.164, as calls hold them. The claim looks a number up by its first column; lists are
-- paged in number order on the same index, so a load writes one index only.
CREATE TABLE suppressions (
    phone_number    text NOT NULL,
    campaign_id     uuid REFERENCES campaigns (id) ON DELETE CASCADE,
    reason          text,
    -- The call whose recipient asked to be taken off (an opt-out).
    source_call_id  uuid,
    expires_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX suppressions_one_per_list
    ON suppressions (phone_number, campaign_id) NULLS NOT DISTINCT;

-- The attempts each number had in the longest period a cap may count (31 days), across every
-- campaign: the starts of those that reached or may have reached the carrier. The claim adds
-- a start in the statement that records the attempt, on this row, which it locks: of two
-- claims racing for one number, the second sees the first's start. `over_cap` is what that
-- claim works out for its caps from the row as it then is; the check makes the whole claim
-- fail when a cap would be exceeded, and the worker claims again (and sees the start).
CREATE TABLE number_dials (
    phone_number  text PRIMARY KEY,
    started       timestamptz[] NOT NULL,
    over_cap      boolean NOT NULL DEFAULT false,
    CONSTRAINT number_dials_within_caps CHECK (NOT over_cap)
);

-- A campaign's contactPolicy ({"frequencyCaps": [...]}), in the API's camelCase.
ALTER TABLE campaigns ADD COLUMN contact_policy jsonb NOT NULL DEFAULT '{}';

-- The caps on a zone group's numbers in a campaign (the policy's for the group's place and
-- the campaign's own), worked out by the dispatcher with the group's window, for the same
-- settings version: the claim reads them beside the window. cap_attempts[i] attempts in
-- cap_hours[i] hours.
ALTER TABLE campaign_zone_groups
    ADD COLUMN cap_attempts int[] NOT NULL DEFAULT '{}',
    ADD COLUMN cap_hours int[] NOT NULL DEFAULT '{}';

-- A finished campaign's calls ended as suppressed, kept with its other counts.
ALTER TABLE final_call_counts ADD COLUMN suppressed bigint NOT NULL DEFAULT 0;
