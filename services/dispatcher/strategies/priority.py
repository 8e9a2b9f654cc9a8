"""priority: shares in proportion to the campaigns' priority (1-10); every campaign that
wants lines gets at least one."""

from __future__ import annotations

from collections.abc import Sequence

from services.dispatcher.strategies.base import Allocation, Demand, share_by_weight


def priority(demands: Sequence[Demand], capacity: int) -> Allocation:
    return share_by_weight(demands, capacity, {d.campaign_id: float(d.priority) for d in demands})
