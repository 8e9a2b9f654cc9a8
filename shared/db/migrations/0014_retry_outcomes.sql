-- Retry policy per outcome (docs/retries.md): what retryConfig.outcomes overrides of the
-- general retry fields, per outcome (BUSY, NO_ANSWER, FAILED, REJECTED, NO_RESULT), in the
-- API's camelCase and only the fields the campaign gave ({"BUSY": {"delayMs": 60000}}); '{}'
-- is a campaign created the seed's way. One jsonb value rather than twenty columns: the map is
-- read whole with its campaign and replaced whole by a PATCH.
ALTER TABLE campaigns
    ADD COLUMN retry_outcomes jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN retry_jitter_ratio double precision NOT NULL DEFAULT 0,
    ADD CONSTRAINT campaigns_retry_jitter_ratio_check
        CHECK (retry_jitter_ratio >= 0 AND retry_jitter_ratio <= 1);
