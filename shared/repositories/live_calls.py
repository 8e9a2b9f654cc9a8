"""SQL fragments for "is this number in a live call right now", shared by claim and count."""

#: An attempt that has neither a result nor a timeout holds its number.
OPEN_ATTEMPT = "a.ended_at IS NULL AND a.timed_out_at IS NULL"

#: True for a call row `c` whose number no open attempt holds, in any campaign.
#: OFFSET 0 keeps PostgreSQL from turning this into an anti-join, which it plans with a scan
#: of every open attempt whenever its statistics say there are few; as a correlated subplan
#: it is one probe of the unique live-number index per candidate.
NOT_IN_LIVE_CALL = f"""NOT EXISTS (
    SELECT 1 FROM call_attempts a WHERE a.phone_number = c.phone_number AND {OPEN_ATTEMPT}
    OFFSET 0)"""
