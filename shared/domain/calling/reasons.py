"""Why a number is not dialled now: stable machine-readable codes, each with a human detail."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ReasonCode(StrEnum):
    CAMPAIGN_NOT_RUNNING = "CAMPAIGN_NOT_RUNNING"
    CAMPAIGN_NOT_STARTED_YET = "CAMPAIGN_NOT_STARTED_YET"
    CAMPAIGN_ENDED = "CAMPAIGN_ENDED"
    OUTSIDE_CAMPAIGN_WINDOW = "OUTSIDE_CAMPAIGN_WINDOW"
    OUTSIDE_POLICY_HOURS = "OUTSIDE_POLICY_HOURS"
    HOLIDAY = "HOLIDAY"
    RESTRICTED_PERIOD = "RESTRICTED_PERIOD"
    UNKNOWN_TIMEZONE = "UNKNOWN_TIMEZONE"
    RETRY_NOT_DUE = "RETRY_NOT_DUE"
    NOT_YET_VALID = "NOT_YET_VALID"
    EXPIRED = "EXPIRED"
    LINES_BUSY = "LINES_BUSY"
    FINAL = "FINAL"
    #: An attempt is being placed or is live: the call is not waiting for a dial.
    CALL_IN_PROGRESS = "CALL_IN_PROGRESS"
    #: On the global do-not-call list or the campaign's: the claim ends the call when it
    #: reaches it (CANCELLED, failureReason SUPPRESSED).
    SUPPRESSED = "SUPPRESSED"
    #: A frequency cap holds the number back until an attempt leaves the cap's period.
    FREQUENCY_CAP = "FREQUENCY_CAP"

    @property
    def is_time_based(self) -> bool:
        """Clears by itself as time passes (so it counts for nextEligibleAt)."""
        return self in _TIME_BASED

    @property
    def is_permanent(self) -> bool:
        """Never clears: nextEligibleAt is null."""
        return self in _PERMANENT


_TIME_BASED = frozenset(
    {
        ReasonCode.CAMPAIGN_NOT_STARTED_YET,
        ReasonCode.OUTSIDE_CAMPAIGN_WINDOW,
        ReasonCode.OUTSIDE_POLICY_HOURS,
        ReasonCode.HOLIDAY,
        ReasonCode.RESTRICTED_PERIOD,
        ReasonCode.RETRY_NOT_DUE,
        ReasonCode.NOT_YET_VALID,
    }
)
_PERMANENT = frozenset(
    {
        ReasonCode.CAMPAIGN_ENDED,
        ReasonCode.UNKNOWN_TIMEZONE,
        ReasonCode.EXPIRED,
        ReasonCode.FINAL,
        ReasonCode.SUPPRESSED,
    }
)


@dataclass(frozen=True)
class Reason:
    code: ReasonCode
    detail: str
    #: Figures behind the reason, for programs (a frequency cap's period and counted attempts).
    details: Mapping[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code.value, "detail": self.detail}
        if self.details is not None:
            out["details"] = dict(self.details)
        return out
