"""What a campaign says about when it calls, and what we know of a recipient and a call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from shared.domain.business_hours import BusinessHours
from shared.domain.calling.calendars import RestrictedPeriod
from shared.domain.calling.hours import ALWAYS, WeeklyHours
from shared.domain.statuses import CallStatus


class TimezoneMode(StrEnum):
    #: The window is read in the campaign's time zone for every number (the seed's behaviour).
    CAMPAIGN = "CAMPAIGN"
    #: The same window is read in each recipient's own local time.
    RECIPIENT = "RECIPIENT"


@dataclass(frozen=True)
class CampaignCallingRules:
    """A campaign's calling schedule. Hashable, so plans built from it can be cached."""

    timezone: str = "UTC"
    hours: WeeklyHours = ALWAYS
    mode: TimezoneMode = TimezoneMode.CAMPAIGN
    #: The zone assumed for a recipient whose zone is unknown; None: such numbers wait.
    default_timezone: str | None = None
    holiday_calendars: tuple[str, ...] = ()
    restricted_periods: tuple[RestrictedPeriod, ...] = ()
    start_at: datetime | None = None
    end_at: datetime | None = None

    @classmethod
    def from_business_hours(cls, hours: BusinessHours) -> CampaignCallingRules:
        """The rules of a campaign created the seed's way: one window, campaign time zone."""
        return cls(timezone=hours.timezone, hours=WeeklyHours.from_business_hours(hours))


@dataclass(frozen=True)
class Recipient:
    """What is known of the called person's whereabouts (resolved once at ingestion).

    `zones`: candidate IANA zones (several when an area code spans two; empty when unknown);
    `regions`: ISO 3166-2 codes ("US-FL"); `country`: ISO 3166-1 alpha-2 ("US").
    """

    zones: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    country: str | None = None


@dataclass(frozen=True)
class CallState:
    """The parts of a call that decide whether it may be dialled now."""

    status: CallStatus = CallStatus.PENDING
    next_retry_at: datetime | None = None
    #: The contact's own `notBefore` and `expiresAt` attributes.
    not_before: datetime | None = None
    expires_at: datetime | None = None
