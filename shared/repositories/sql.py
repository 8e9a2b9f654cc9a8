"""Small builders of SQL text that several repositories share.

Everything here runs once, at import, on constants of our own (enum values, CTE names written
in the code): never on input from a request or a message.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from shared.domain.statuses import (
    FINAL_CALL_STATUSES,
    FINAL_CAMPAIGN_STATUSES,
    CallStatus,
)


def sql_literal(status: StrEnum) -> str:
    """`'A'`: one status as an SQL literal, so that SQL and Python name the same states."""
    return f"'{status.value}'"


def sql_list(statuses: Iterable[StrEnum]) -> str:
    """`('A', 'B')`: statuses for an SQL `IN`, in the order their enum declares them (so the
    text of a statement is the same from one run to the next)."""
    members = set(statuses)
    (enum,) = {type(s) for s in members}  # one enum: the values of two may look alike
    return "(" + ", ".join(sql_literal(s) for s in enum if s in members) + ")"


def after(cte: str) -> str:
    """A condition, always true, that makes the statement read CTE `cte` first.

    All parts of a statement with data-modifying CTEs run on one snapshot, and PostgreSQL runs
    them in whatever order its plan needs their rows; a part that nothing reads may even run
    last. Where the order matters (lock the attempts before updating them; update calls, then
    line slots, then campaigns, the order every statement keeps so none deadlocks), the later
    part's WHERE asks how many rows the earlier one had: it cannot be answered before that part
    has run, and the count is never negative, so it filters nothing.
    """
    return f"(SELECT count(*) FROM {cte}) >= 0"


#: Calls that are not final: waiting, dialling, in progress, or failed with a retry to come.
OPEN_CALL_STATUSES_SQL = sql_list(set(CallStatus) - FINAL_CALL_STATUSES)
FINAL_CALL_STATUSES_SQL = sql_list(FINAL_CALL_STATUSES)
FINAL_CAMPAIGN_STATUSES_SQL = sql_list(FINAL_CAMPAIGN_STATUSES)
