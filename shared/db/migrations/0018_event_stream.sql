-- The live event stream (GET /api/v1/events, docs/webhooks.md) reads the outbox in commit
-- order. Positions are taken when a row is inserted, not when its transaction commits, so a
-- reader following positions alone could pass an event whose transaction commits later.
-- Each event records its transaction; the stream reads only events of transactions older
-- than every one still running (pg_snapshot_xmin), in (transaction, position) order: no
-- event can appear behind that point any more.
ALTER TABLE webhook_events ADD COLUMN xact_id xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX webhook_events_stream ON webhook_events (xact_id, position);

-- Events are written while an endpoint wants them or a stream may: a stream that connected
-- makes them written until `until` (its retention period on), so that a client that
-- reconnects with Last-Event-ID within it misses nothing. One row.
CREATE TABLE event_stream_interest (
    only_row    boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    until       timestamptz NOT NULL
);

-- webhook.disabled events are numbered per endpoint, as a call's or a campaign's are.
ALTER TABLE webhook_endpoints ADD COLUMN event_seq integer NOT NULL DEFAULT 0;

-- Retention walks the events by position (the order they were written in, near enough
-- that of created_at) and stops after a batch: the index on created_at cost every event
-- an index entry for that alone.
DROP INDEX webhook_events_created;
