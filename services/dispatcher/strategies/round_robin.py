"""round_robin (the default): equal shares, each capped by the campaign's own limit, what a
campaign cannot use flowing to the others."""

from __future__ import annotations

from collections.abc import Sequence

from services.dispatcher.strategies.base import Allocation, Demand, share_by_weight


def round_robin(demands: Sequence[Demand], capacity: int) -> Allocation:
    return share_by_weight(demands, capacity, {d.campaign_id: 1.0 for d in demands})
