-- Answering machines (docs/answering-machines.md): whether a campaign asks the carrier to
-- detect them, and what a machine's answer does to the call. A change to either bumps the
-- campaign's settings_version like every other dial setting (the API does it).
ALTER TABLE campaigns
    ADD COLUMN machine_detection boolean NOT NULL DEFAULT false,
    ADD COLUMN on_machine text NOT NULL DEFAULT 'COMPLETE',
    ADD CONSTRAINT campaigns_on_machine_check
        CHECK (on_machine IN ('COMPLETE', 'RETRY', 'HANG_UP'));

-- Who answered the call's latest attempt (human, machine, fax, unknown), as its attempts
-- already keep it: lists of calls show it without reading every attempt.
ALTER TABLE calls ADD COLUMN answered_by text;
