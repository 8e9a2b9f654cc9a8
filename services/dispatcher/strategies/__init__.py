"""How the global line capacity is shared among running campaigns. One module per strategy,
each a pure function from the campaigns' demands and the capacity to lines per campaign;
STRATEGIES picks one by the name in VCS_SCHEDULING_STRATEGY."""

from __future__ import annotations

from services.dispatcher.strategies.base import Allocation, Demand, Strategy
from services.dispatcher.strategies.priority import priority
from services.dispatcher.strategies.remaining_calls import remaining_calls
from services.dispatcher.strategies.round_robin import round_robin

STRATEGIES: dict[str, Strategy] = {
    "round_robin": round_robin,
    "priority": priority,
    "remaining_calls": remaining_calls,
}

__all__ = ["STRATEGIES", "Allocation", "Demand", "Strategy"]
