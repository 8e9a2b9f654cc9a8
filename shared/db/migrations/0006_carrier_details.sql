-- What a real carrier tells about an attempt besides its outcome: who answered (a person, a
-- machine) and the SIP response that ended a failed call.
ALTER TABLE call_attempts
    ADD COLUMN answered_by text,
    ADD COLUMN sip_response_code integer;

-- The two new columns are written once, like the rest of the attempt's history.
CREATE OR REPLACE FUNCTION call_attempts_write_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (OLD.external_call_id IS NOT NULL AND NEW.external_call_id IS DISTINCT FROM OLD.external_call_id)
       OR (OLD.ended_at IS NOT NULL AND NEW.ended_at IS DISTINCT FROM OLD.ended_at)
       OR (OLD.outcome IS NOT NULL AND NEW.outcome IS DISTINCT FROM OLD.outcome)
       OR (OLD.reason IS NOT NULL AND NEW.reason IS DISTINCT FROM OLD.reason)
       OR (OLD.duration_seconds IS NOT NULL AND NEW.duration_seconds IS DISTINCT FROM OLD.duration_seconds)
       OR (OLD.timed_out_at IS NOT NULL AND NEW.timed_out_at IS DISTINCT FROM OLD.timed_out_at)
       OR (OLD.answered_by IS NOT NULL AND NEW.answered_by IS DISTINCT FROM OLD.answered_by)
       OR (OLD.sip_response_code IS NOT NULL AND NEW.sip_response_code IS DISTINCT FROM OLD.sip_response_code)
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
