"""Works out, for every zone group of the running campaigns, whether its numbers may be called
now and until when, and writes the answer where the claim reads it (campaign_zone_groups).

A row is due when its window may have changed: new, after the campaign's rules changed, or
when the instant it opens or closes has come. Everything else costs nothing per pass.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

from shared.domain.calling import CallingPolicy, Recipient, group_window
from shared.repositories.campaigns import fetch_campaigns
from shared.repositories.zone_windows import ComputedWindow, due_windows, write_windows

#: Rows worked out per statement: a deployment's first pass (or a policy change) over many
#: campaigns is spread over passes instead of one long one.
WINDOWS_PER_PASS = 2000
#: A window with no change in sight is looked at again this soon (the search horizon moves).
LONGEST_RECHECK = timedelta(hours=6)


async def refresh_windows(
    conn: asyncpg.Connection, policy: CallingPolicy | None, now: datetime
) -> int:
    """Work out every due window; the number of rows written."""
    due = await due_windows(conn, now, WINDOWS_PER_PASS)
    if not due:
        return 0
    campaigns = await fetch_campaigns(conn, {row.campaign_id for row in due})
    computed = []
    for row in due:
        campaign = campaigns.get(row.campaign_id)
        if campaign is None:
            continue
        window = group_window(
            campaign.calling_rules, policy, Recipient(row.zones, row.regions, row.country), now
        )
        caps = set(campaign.frequency_caps)
        if policy is not None:
            caps.update(policy.caps_for(row.country, row.regions))
        change = window.until if window.open else window.next_opening
        recheck = min(change, now + LONGEST_RECHECK) if change else now + LONGEST_RECHECK
        computed.append(
            ComputedWindow(
                campaign_id=row.campaign_id,
                zone_group_id=row.zone_group_id,
                settings_version=campaign.settings_version,
                # Open with no end in sight: open until the next look, which moves it on.
                open_until=(window.until or now + LONGEST_RECHECK * 2) if window.open else None,
                opens_at=None if window.open else window.next_opening,
                recheck_at=recheck,
                caps=tuple(sorted(caps)),
            )
        )
    await write_windows(conn, computed)
    return len(computed)
