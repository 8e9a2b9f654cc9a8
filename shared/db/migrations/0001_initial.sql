-- Campaigns, their calls, and every attempt at a call.

CREATE TABLE campaigns (
    id                       uuid PRIMARY KEY,
    -- SINGLE_CALLS is the one built-in campaign that carries POST /calls requests.
    kind                     text NOT NULL DEFAULT 'CAMPAIGN'
                             CHECK (kind IN ('CAMPAIGN', 'SINGLE_CALLS')),
    name                     text NOT NULL,
    description              text,
    status                   text NOT NULL
                             CHECK (status IN ('PENDING', 'IN_PROGRESS', 'PAUSED',
                                               'COMPLETED', 'FAILED', 'CANCELLED')),
    concurrency_limit        integer NOT NULL CHECK (concurrency_limit > 0),
    priority                 integer NOT NULL CHECK (priority BETWEEN 1 AND 10),
    max_retries              integer NOT NULL CHECK (max_retries >= 0),
    sync_initial_backoff_ms  integer NOT NULL CHECK (sync_initial_backoff_ms >= 0),
    sync_backoff_multiplier  double precision NOT NULL CHECK (sync_backoff_multiplier >= 1),
    callback_retry_delay_ms  integer NOT NULL CHECK (callback_retry_delay_ms >= 0),
    callback_timeout_ms      integer NOT NULL CHECK (callback_timeout_ms > 0),
    window_start_minute      smallint NOT NULL CHECK (window_start_minute BETWEEN 0 AND 1439),
    window_end_minute        smallint NOT NULL CHECK (window_end_minute BETWEEN 0 AND 1440),
    timezone                 text NOT NULL,
    allowed_days             smallint[] NOT NULL,
    -- Attempts started and not yet ended: the fence that holds the concurrency limit.
    in_flight                integer NOT NULL DEFAULT 0 CHECK (in_flight >= 0),
    -- Raised by every change of the dialling settings; a worker claims a line only with the
    -- version it checked the business hours against.
    settings_version         integer NOT NULL DEFAULT 1,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    started_at               timestamptz,
    finished_at              timestamptz,
    queue_removed_at         timestamptz
);

CREATE INDEX campaigns_running ON campaigns (status) WHERE status IN ('IN_PROGRESS', 'PAUSED');
CREATE INDEX campaigns_newest_first ON campaigns (created_at DESC, id DESC);
CREATE UNIQUE INDEX campaigns_one_single_calls ON campaigns (kind) WHERE kind = 'SINGLE_CALLS';

CREATE TABLE calls (
    id                     uuid PRIMARY KEY,
    seq                    bigint GENERATED ALWAYS AS IDENTITY,
    campaign_id            uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    phone_number           text NOT NULL,
    -- Numbers of a campaign are unique; single calls may repeat a number.
    deduplicate            boolean NOT NULL DEFAULT true,
    status                 text NOT NULL
                           CHECK (status IN ('PENDING', 'SCHEDULED', 'IN_PROGRESS', 'COMPLETED',
                                             'FAILED', 'PERMANENTLY_FAILED', 'CANCELLED')),
    -- Attempts recorded, and those that reached (or may have reached) the provider.
    attempt_count          integer NOT NULL DEFAULT 0,
    dial_count             integer NOT NULL DEFAULT 0,
    next_retry_at          timestamptz,
    last_attempted_at      timestamptz,
    external_call_id       text,
    failure_reason         text,
    call_duration_seconds  integer,
    attributes             jsonb,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX calls_number_once_per_campaign ON calls (campaign_id, phone_number)
    WHERE deduplicate;
-- The worker's claim: new numbers in insertion order, due retries by due time.
CREATE INDEX calls_pending_in_order ON calls (campaign_id, seq) WHERE status = 'PENDING';
CREATE INDEX calls_retries_by_due_time ON calls (campaign_id, next_retry_at) WHERE status = 'FAILED';
CREATE INDEX calls_by_campaign_status ON calls (campaign_id, status, seq);

CREATE TABLE call_attempts (
    call_id               uuid NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    attempt_no            integer NOT NULL CHECK (attempt_no > 0),
    campaign_id           uuid NOT NULL,
    phone_number          text NOT NULL,
    -- The PlaceCall job that started this attempt: a redelivered job finds its attempt.
    job_id                uuid NOT NULL UNIQUE,
    -- The worker holding that job now; another worker adopts it after a redelivery.
    worker_id             text NOT NULL,
    started_at            timestamptz NOT NULL,
    expected_callback_by  timestamptz NOT NULL,
    external_call_id      text,
    provider_status       text,
    ended_at              timestamptz,
    outcome               text,
    reason                text,
    duration_seconds      integer,
    timed_out_at          timestamptz,
    PRIMARY KEY (call_id, attempt_no)
);

CREATE UNIQUE INDEX call_attempts_by_external_id ON call_attempts (external_call_id)
    WHERE external_call_id IS NOT NULL;
-- The watchdog's index. Its predicate names `outcome` (set with `ended_at`, always together)
-- on purpose: were it the live-number index's predicate, the planner could pick it for the
-- live-number check and scan every open attempt instead of probing one number.
CREATE INDEX call_attempts_open_by_deadline ON call_attempts (expected_callback_by)
    WHERE outcome IS NULL AND timed_out_at IS NULL;
-- A number is never in two live calls at once, whichever campaigns hold it.
CREATE UNIQUE INDEX call_attempts_one_live_call_per_number ON call_attempts (phone_number)
    WHERE ended_at IS NULL AND timed_out_at IS NULL;

-- The attempt history is append-only: once set, what an attempt recorded never changes.
CREATE FUNCTION call_attempts_write_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (OLD.external_call_id IS NOT NULL AND NEW.external_call_id IS DISTINCT FROM OLD.external_call_id)
       OR (OLD.ended_at IS NOT NULL AND NEW.ended_at IS DISTINCT FROM OLD.ended_at)
       OR (OLD.outcome IS NOT NULL AND NEW.outcome IS DISTINCT FROM OLD.outcome)
       OR (OLD.reason IS NOT NULL AND NEW.reason IS DISTINCT FROM OLD.reason)
       OR (OLD.duration_seconds IS NOT NULL AND NEW.duration_seconds IS DISTINCT FROM OLD.duration_seconds)
       OR (OLD.timed_out_at IS NOT NULL AND NEW.timed_out_at IS DISTINCT FROM OLD.timed_out_at)
       OR NEW.started_at IS DISTINCT FROM OLD.started_at
       OR NEW.job_id IS DISTINCT FROM OLD.job_id
       OR NEW.call_id IS DISTINCT FROM OLD.call_id
       OR NEW.attempt_no IS DISTINCT FROM OLD.attempt_no
    THEN
        RAISE EXCEPTION 'call attempt %/% is append-only', OLD.call_id, OLD.attempt_no
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER call_attempts_write_once BEFORE UPDATE ON call_attempts
    FOR EACH ROW EXECUTE FUNCTION call_attempts_write_once();

-- Calls and attempts change state several times each in their first minutes: vacuum them
-- long before the default 20 % of dead rows, so that index scans do not wade through them.
ALTER TABLE calls SET (
    autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02,
    autovacuum_vacuum_insert_scale_factor = 0.05, autovacuum_vacuum_cost_delay = 0);
ALTER TABLE call_attempts SET (
    autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02,
    autovacuum_vacuum_insert_scale_factor = 0.05, autovacuum_vacuum_cost_delay = 0);
ALTER TABLE campaigns SET (autovacuum_vacuum_scale_factor = 0.0, autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_cost_delay = 0);

-- Messages no consumer could handle, kept for operators; the database state machine has
-- already made sure no call waits on them.
CREATE TABLE dead_letters (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue        text NOT NULL,
    message_type text,
    reason       text,
    headers      jsonb,
    body         text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);
