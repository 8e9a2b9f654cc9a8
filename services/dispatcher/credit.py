"""How many LeaseLine jobs a campaign's queue should receive now. Pure arithmetic."""

from __future__ import annotations

import math


def jobs_to_publish(
    *, lines: int, in_flight: int, queued: int, dialable: int, queued_per_line: float
) -> int:
    """Jobs to add so that every free line has one waiting, plus a small buffer.

    `lines` is how many calls the campaign may have in progress now (its limit, or its share
    of the global capacity). The buffer of `queued_per_line` jobs per line lets a worker start
    the next call as soon as one ends, without waiting for the dispatcher's next pass; it is
    kept small because a queued job is a promise of a line, and pausing must take effect fast.
    Never more jobs than numbers that could be dialled.
    """
    free_lines = max(lines - in_flight, 0)
    buffer = math.ceil(lines * queued_per_line)
    wanted = min(free_lines + buffer, max(dialable, 0))
    return max(wanted - queued, 0)
