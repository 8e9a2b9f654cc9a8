"""When a number may be called: campaign windows read in the campaign's or the recipient's
time zone, an operator's calling policy that no campaign can widen, holidays, blackouts and
schedules, and the answer to "why isn't this number being dialled, and when will it be?".

Pure: no I/O beyond reading a policy file that the caller names.
"""

from shared.domain.calling.calendars import RestrictedPeriod, UnknownCalendar, check_calendar
from shared.domain.calling.checks import Eligibility, GroupWindow, eligibility, group_window
from shared.domain.calling.hours import WeeklyHours
from shared.domain.calling.plan import HORIZON
from shared.domain.calling.policy import (
    CallingPolicy,
    CallingPolicyError,
    PolicyRule,
    load_calling_policy,
    parse_calling_policy,
)
from shared.domain.calling.reasons import Reason, ReasonCode
from shared.domain.calling.rules import CallState, CampaignCallingRules, Recipient, TimezoneMode
from shared.domain.calling.spec import BusinessHoursSpec, CampaignCallingSpec

__all__ = [
    "HORIZON",
    "BusinessHoursSpec",
    "CallState",
    "CallingPolicy",
    "CallingPolicyError",
    "CampaignCallingRules",
    "CampaignCallingSpec",
    "Eligibility",
    "GroupWindow",
    "PolicyRule",
    "Reason",
    "ReasonCode",
    "Recipient",
    "RestrictedPeriod",
    "TimezoneMode",
    "UnknownCalendar",
    "WeeklyHours",
    "check_calendar",
    "eligibility",
    "group_window",
    "load_calling_policy",
    "parse_calling_policy",
]
