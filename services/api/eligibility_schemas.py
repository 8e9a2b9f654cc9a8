"""Response bodies that say why numbers are not dialled: one call's eligibility and a
campaign's inventory."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from services.api.schemas import ResponseBody

#: The reason codes the dialler enforces today (see docs/architecture.md, "Why a number is
#: not dialled"). The calling domain knows more; they are added here as the claim applies them.
ReasonCodeOut = Literal[
    "CAMPAIGN_NOT_RUNNING",
    "OUTSIDE_CAMPAIGN_WINDOW",
    "RETRY_NOT_DUE",
    "CALL_IN_PROGRESS",
    "LINES_BUSY",
    "FINAL",
]


class ReasonOut(ResponseBody):
    code: ReasonCodeOut = Field(description="Stable, for programs")
    detail: str = Field(description="For people: names the zone, local time and rule")


class EligibilityOut(ResponseBody):
    eligible: bool = Field(description="true: the claim would dial this number now")
    reasons: list[ReasonOut] = Field(description="Every reason it is not dialled now")
    next_eligible_at: datetime | None = Field(
        description="The earliest instant at which every time-based reason (window, retry due"
        " time) has cleared; reasons that wait for an event (the campaign started or resumed, a"
        " line freed, a live call ended) are not predicted. null: never (a final call, a"
        " finished campaign)"
    )
    timezone: str | None = Field(description="The IANA zone the window is read in")
    local_time: str | None = Field(
        description="Now in that zone, RFC 3339 to the minute with its offset"
    )


class InventoryOut(ResponseBody):
    dialable_now: int = Field(
        description="New numbers and due retries the claim would take now, as lines free up:"
        " 0 when the campaign is not running or outside its window"
    )
    waiting: dict[str, int] = Field(
        description="Numbers neither final nor dialable now, each counted once: calls being"
        " dialled or live under CALL_IN_PROGRESS; retries not due yet under RETRY_NOT_DUE; new"
        " numbers and due retries under CAMPAIGN_NOT_RUNNING when the campaign is not running,"
        " else OUTSIDE_CAMPAIGN_WINDOW when it is outside its window, else CALL_IN_PROGRESS"
        " when another live call holds the number. Only reasons that hold for some number are"
        " listed"
    )
    final: dict[str, int] = Field(
        description="Numbers in a final state, by status (COMPLETED, PERMANENTLY_FAILED, CANCELLED)"
    )
    next_opening_at: datetime | None = Field(
        description="When the campaign's window next opens; null while it is open or when the"
        " campaign is finished"
    )
