"""remaining_calls: campaigns with fewer calls left go first, so that they finish; every
campaign that wants lines still gets one, so none starves."""

from __future__ import annotations

from collections.abc import Sequence

from services.dispatcher.strategies.base import Allocation, Demand


def remaining_calls(demands: Sequence[Demand], capacity: int) -> Allocation:
    lines = {d.campaign_id: 0 for d in demands}
    order = sorted(demands, key=lambda d: (d.remaining, str(d.campaign_id)))
    left = capacity
    for demand in order:  # one line each first, fewest calls left first
        if left and demand.wants:
            lines[demand.campaign_id] = 1
            left -= 1
    for demand in order:  # then as many as each can use, in the same order
        extra = min(demand.wants - lines[demand.campaign_id], left)
        if extra > 0:
            lines[demand.campaign_id] += extra
            left -= extra
    return lines
