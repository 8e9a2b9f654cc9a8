-- The calling rules applied at dial time (docs/calling-policy.md): a campaign's schedule and
-- the rest of its calling spec, each number's own validity, and which of a campaign's zone
-- groups are open now, worked out by the dispatcher so that the claim does no time-zone
-- arithmetic per row.

-- What the seed's columns (window_*, timezone, allowed_days) cannot say: timezoneMode,
-- defaultTimeZone, dailyHours, holidayCalendars, restrictedPeriods, in the API's camelCase
-- (shared/domain/calling/spec.py reads it). '{}' is a campaign created the seed's way.
ALTER TABLE campaigns
    ADD COLUMN calling jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN start_at timestamptz,
    ADD COLUMN end_at timestamptz,
    ADD COLUMN auto_start boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT campaigns_schedule_check CHECK (end_at IS NULL OR start_at IS NULL OR end_at > start_at);

-- The dispatcher's tick looks for campaigns to start by themselves or to end.
CREATE INDEX campaigns_scheduled ON campaigns (status)
    WHERE auto_start OR end_at IS NOT NULL;

-- A contact's own notBefore and expiresAt attributes, copied out of `attributes` at load time
-- so that the claim compares two columns.
ALTER TABLE calls
    ADD COLUMN not_before timestamptz,
    ADD COLUMN expires_at timestamptz;

-- The tick ends numbers whose expiresAt has passed while they wait.
CREATE INDEX calls_expiring ON calls (expires_at)
    WHERE expires_at IS NOT NULL AND status IN ('PENDING', 'FAILED');

-- One row per zone group a campaign has numbers in (written by every load). The dispatcher
-- computes each row's window from the campaign's rules (settings_version), the calling policy
-- and the group's place, and writes it only when it changes: open until `open_until`, or
-- closed until `opens_at` (null: not within the search horizon). The claim takes numbers only
-- of groups with `open_until > now` computed under the settings version it was given, so a
-- window closes at its instant even if no pass comes, and a row the dispatcher has not worked
-- out yet (new, or stale after a PATCH) is closed: fail closed.
CREATE TABLE campaign_zone_groups (
    campaign_id      uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    -- 0 stands for calls loaded before zone groups existed (calls.zone_group_id null).
    zone_group_id    smallint NOT NULL,
    settings_version integer NOT NULL DEFAULT 0,
    open_until       timestamptz,
    opens_at         timestamptz,
    -- When the dispatcher must look again: when the window changes (or in a day at most).
    recheck_at       timestamptz NOT NULL DEFAULT '-infinity',
    PRIMARY KEY (campaign_id, zone_group_id)
);
CREATE INDEX campaign_zone_groups_due ON campaign_zone_groups (recheck_at);

INSERT INTO campaign_zone_groups (campaign_id, zone_group_id)
SELECT DISTINCT campaign_id, coalesce(zone_group_id, 0) FROM calls
WHERE status IN ('PENDING', 'SCHEDULED', 'IN_PROGRESS', 'FAILED');
