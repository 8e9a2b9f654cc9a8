-- Webhooks from a transactional outbox (docs/webhooks.md).

-- Each event of a call or a campaign takes the next number of its subject, in the statement
-- that changes the subject's row (which holds the row's lock), so receivers can order what
-- arrives out of order. Bumped only while some enabled endpoint wants events.
ALTER TABLE calls ADD COLUMN event_seq integer NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN event_seq integer NOT NULL DEFAULT 0;

-- Where events go. The secret signs every delivery (Standard Webhooks); it is stored
-- encrypted with the operator's key (VCS_WEBHOOK_SECRET_KEY, Fernet), so a dump alone does
-- not reveal it. After a rotation the previous secret still signs until previous_secret_until,
-- so a receiver can switch over without losing a delivery.
CREATE TABLE webhook_endpoints (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    url                     text NOT NULL,
    events                  text[] NOT NULL,
    description             text,
    enabled                 boolean NOT NULL DEFAULT true,
    secret_encrypted        text NOT NULL,
    previous_secret_encrypted text,
    previous_secret_until   timestamptz,
    -- Why it was disabled by the deliverer (410 Gone, failing for the whole retry period);
    -- null when enabled or disabled by a client.
    disabled_reason         text,
    disabled_at             timestamptz,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);

-- The outbox: one row per event, written in the transaction of the change that causes it.
-- `payload` holds the subject's rows as that change left them ({"call": ..., "attempt": ...}
-- or {"campaign": ...}); the deliverer renders the body from it once (`body`, the exact bytes
-- every delivery and retry of this event sends) and fans it out to the endpoints that want
-- it (`fanned_out_at`). `position` orders events for the fan-out (and a future stream).
CREATE TABLE webhook_events (
    position        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              uuid NOT NULL DEFAULT time_ordered_uuid(),
    type            text NOT NULL,
    call_id         uuid,
    campaign_id     uuid,
    sequence        integer NOT NULL,
    payload         jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    body            text,
    fanned_out_at   timestamptz
);
CREATE UNIQUE INDEX webhook_events_id ON webhook_events (id);
CREATE INDEX webhook_events_to_fan_out ON webhook_events (position) WHERE fanned_out_at IS NULL;
CREATE INDEX webhook_events_created ON webhook_events (created_at);

-- One event to one endpoint. PENDING until a 2xx (DELIVERED) or the retry period is over or
-- the endpoint is gone (FAILED). A deliverer that takes one pushes `next_attempt_at` past its
-- request's timeout (a lease): if it dies, the delivery is due again and another takes it.
CREATE TABLE webhook_deliveries (
    id              uuid PRIMARY KEY DEFAULT time_ordered_uuid(),
    endpoint_id     uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id        uuid NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    status          text NOT NULL DEFAULT 'PENDING'
                    CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
    attempt_count   integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- Where its retry period (VCS_WEBHOOK_RETRY_HOURS) starts: its creation, or a retry asked
    -- for through the API.
    retry_since     timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (endpoint_id, next_attempt_at)
    WHERE status = 'PENDING';
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, created_at DESC);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);

-- Every request made for a delivery, for the delivery log.
CREATE TABLE webhook_delivery_attempts (
    delivery_id     uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt_no      integer NOT NULL,
    attempted_at    timestamptz NOT NULL,
    status_code     integer,
    latency_ms      integer NOT NULL,
    error           text,
    next_retry_at   timestamptz,
    PRIMARY KEY (delivery_id, attempt_no)
);

-- Each event row is updated once (fanned out) and each delivery a few times (leased, ended):
-- vacuumed as eagerly as the calls they follow (the dispatcher does it where autovacuum is off).
ALTER TABLE webhook_events SET (
    autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02,
    autovacuum_vacuum_insert_scale_factor = 0.05, autovacuum_vacuum_cost_delay = 0);
ALTER TABLE webhook_deliveries SET (
    autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02,
    autovacuum_vacuum_insert_scale_factor = 0.05, autovacuum_vacuum_cost_delay = 0);
