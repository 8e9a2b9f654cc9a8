"""Turns one pass's snapshot into the lines each running campaign may hold. Pure."""

from __future__ import annotations

from collections.abc import Collection
from uuid import UUID

from services.dispatcher.strategies import Allocation, Demand, Strategy
from shared.repositories.dispatching import DispatchSnapshot


def plan_lines(
    snapshot: DispatchSnapshot, open_now: Collection[UUID], capacity: int, strategy: Strategy
) -> Allocation:
    """Lines for every running campaign: a share of the capacity for those inside their
    calling hours, none for the others.

    Lines held by calls of campaigns that take no part (outside their hours, paused, cancelled
    with calls still live) are not the strategy's to give: it shares what is left.
    """
    taking_part = [c for c in snapshot.candidates if c.campaign.id in open_now]
    held_by_others = snapshot.lines_in_use - sum(c.campaign.in_flight for c in taking_part)
    shareable = max(capacity - max(held_by_others, 0), 0)
    demands = [
        Demand(
            campaign_id=c.campaign.id,
            limit=c.campaign.concurrency_limit,
            priority=c.campaign.priority,
            in_flight=c.campaign.in_flight,
            dialable=c.dialable,
            remaining=c.remaining,
        )
        for c in taking_part
    ]
    allocation = strategy(demands, shareable)
    return {c.campaign.id: allocation.get(c.campaign.id, 0) for c in snapshot.candidates}
