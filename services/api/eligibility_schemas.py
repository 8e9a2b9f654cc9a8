"""Response bodies that say why numbers are not dialled: one call's eligibility and a
campaign's inventory."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from services.api.schemas import ResponseBody

#: The reason codes the dialler enforces (see docs/architecture.md, "Why a number is not
#: dialled"), the calling domain's ReasonCode.
ReasonCodeOut = Literal[
    "CAMPAIGN_NOT_RUNNING",
    "CAMPAIGN_NOT_STARTED_YET",
    "OUTSIDE_CAMPAIGN_WINDOW",
    "OUTSIDE_POLICY_HOURS",
    "RESTRICTED_PERIOD",
    "HOLIDAY",
    "UNKNOWN_TIMEZONE",
    "RETRY_NOT_DUE",
    "NOT_YET_VALID",
    "EXPIRED",
    "CAMPAIGN_ENDED",
    "CALL_IN_PROGRESS",
    "LINES_BUSY",
    "FINAL",
    "SUPPRESSED",
    "FREQUENCY_CAP",
]


class ReasonOut(ResponseBody):
    code: ReasonCodeOut = Field(description="Stable, for programs")
    detail: str = Field(description="For people: names the zone, local time and rule")
    details: dict[str, Any] | None = Field(
        None,
        description="FREQUENCY_CAP only: the cap that holds the number ({maxAttempts,"
        " periodHours}) and the starts of the attempts that count against it"
        " (countedAttempts, oldest first)",
    )


class EligibilityOut(ResponseBody):
    eligible: bool = Field(description="true: the claim would dial this number now")
    reasons: list[ReasonOut] = Field(description="Every reason it is not dialled now")
    next_eligible_at: datetime | None = Field(
        description="The earliest instant at which every time-based reason (windows, policy"
        " hours, holidays, restricted periods, startAt, notBefore, the retry's due time) has"
        " cleared; reasons that wait for an event (the campaign started or resumed, a line"
        " freed, a live call ended) are not predicted. null: never (a final call, a finished"
        " or ended campaign, an expired number, an unknown zone)"
    )
    timezone: str | list[str] | None = Field(
        description="The recipient's IANA zone (a list when the number maps to several: each"
        " must allow the call); in CAMPAIGN mode without a policy rule for the number, the"
        " campaign's zone"
    )
    local_time: str | list[str] | None = Field(
        description="Now in that zone (each zone), RFC 3339 to the minute with its offset"
    )


class InventoryOut(ResponseBody):
    dialable_now: int = Field(
        description="New numbers and due retries the claim would take now, as lines free up:"
        " 0 when the campaign is not running"
    )
    waiting: dict[str, int] = Field(
        description="Numbers neither final nor dialable now, each counted once under the first"
        " reason that holds it: calls being dialled or live under CALL_IN_PROGRESS; retries not"
        " due yet under RETRY_NOT_DUE; new numbers and due retries under CAMPAIGN_NOT_RUNNING"
        " when the campaign is not running, else NOT_YET_VALID or EXPIRED (the number's own"
        " notBefore/expiresAt), else the first time-based rule that closes its zone group now"
        " (UNKNOWN_TIMEZONE, CAMPAIGN_NOT_STARTED_YET, CAMPAIGN_ENDED, RESTRICTED_PERIOD,"
        " OUTSIDE_CAMPAIGN_WINDOW, OUTSIDE_POLICY_HOURS, HOLIDAY), else CALL_IN_PROGRESS when"
        " another live call holds the number, else FREQUENCY_CAP (a cap across campaigns holds"
        " it back), else SUPPRESSED (on a do-not-call list: the claim ends it when it reaches"
        " it). Only reasons that hold for some number are listed"
    )
    final: dict[str, int] = Field(
        description="Numbers in a final state, by status (COMPLETED, PERMANENTLY_FAILED, CANCELLED)"
    )
    next_opening_at: datetime | None = Field(
        description="When the first zone group whose numbers wait for their window opens;"
        " null when none waits for one (or none opens within a year), or the campaign is"
        " finished"
    )
