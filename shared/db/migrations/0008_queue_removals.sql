-- Job queues of deleted campaigns that are still to be removed from the broker. Deleting a
-- campaign writes its row here in the same transaction, so a broker that is away (or a
-- process that dies) cannot leave a queue behind that no row names any more: the api removes
-- the queue at once, and the active dispatcher retries whatever is left.
CREATE TABLE queue_removals (
    campaign_id   uuid PRIMARY KEY,
    requested_at  timestamptz NOT NULL DEFAULT now()
);
