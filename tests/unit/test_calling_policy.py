"""The operator's calling policy file: loading, refusing bad files, and always narrowing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shared.domain.calling import (
    CallingPolicyError,
    CallState,
    CampaignCallingRules,
    ReasonCode,
    Recipient,
    TimezoneMode,
    WeeklyHours,
    eligibility,
    load_calling_policy,
    parse_calling_policy,
)
from shared.domain.statuses import CampaignStatus

DEFAULT_POLICY = Path(__file__).parents[2] / "deploy" / "calling-policy.json"
CHICAGO = Recipient(("America/Chicago",), ("US-IL",), "US")


def _policy(**extra: Any) -> str:
    rule = {
        "name": "federal",
        "countries": ["US"],
        "hours": {"startTime": "08:00", "endTime": "21:00"},
    }
    return json.dumps({"rules": [rule], **extra})


def _rules(**fields: Any) -> str:
    """A one-rule policy, with `fields` replacing the rule's."""
    rule = {"name": "x", "countries": ["US"], "hours": {"startTime": "08:00", "endTime": "21:00"}}
    return json.dumps({"rules": [{**rule, **fields}]})


def test_the_shipped_default_loads_with_only_the_federal_rules_on() -> None:
    policy = load_calling_policy(DEFAULT_POLICY)
    assert policy is not None
    assert [rule.name for rule in policy.rules] == [
        "US federal window",
        "Canada telemarketing window",
    ]
    us = policy.rules_for("US", ("US-FL",))
    assert [rule.name for rule in us] == ["US federal window"]  # the Florida example is off
    assert us[0].hours == WeeklyHours.single(8 * 60, 21 * 60)
    canada = policy.rules_for("CA", ())[0].hours
    assert canada.on(1) == ((540, 1290),) and canada.on(7) == ((600, 1080),)


def test_off_turns_the_policy_off() -> None:
    assert load_calling_policy("off") is None
    assert load_calling_policy(" OFF ") is None


def test_daily_hours_replace_the_rules_hours_on_the_days_they_name() -> None:
    text = json.dumps(
        {
            "rules": [
                {
                    "name": "stricter state",
                    "regions": ["US-FL"],
                    "hours": {"startTime": "08:00", "endTime": "20:00"},
                    "dailyHours": {"SUNDAY": [{"startTime": "12:00", "endTime": "20:00"}]},
                }
            ]
        }
    )
    (rule,) = parse_calling_policy(text).rules
    assert rule.hours.on(6) == ((480, 1200),) and rule.hours.on(7) == ((720, 1200),)
    assert rule.applies_to("US", ("US-FL",)) and not rule.applies_to("US", ("US-GA",))


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "not JSON"),
        ("{", "not JSON"),
        ("[]", "top level"),
        (
            '{"rules": [{"name": "x", "countries": ["US"]}]}',
            "no hours, dailyHours or frequencyCaps",
        ),
        (
            '{"rules": [{"name": "x", "hours": {"startTime": "08:00", "endTime": "21:00"}}]}',
            "no countries",
        ),
        (
            _rules(countries=["usa"]),
            "rules.0.countries",
        ),
        (
            _rules(countries=[], regions=["FL"]),
            "rules.0.regions",
        ),
        (
            _rules(hours={"startTime": "8am", "endTime": "21:00"}),
            "rules.0.hours",
        ),
        (
            _rules(enabeld=False),
            "enabeld",
        ),
        (_policy(holidayCalendars=["NOWHERE"]), "holidayCalendars"),
        (
            _policy(
                restrictedPeriods=[
                    {"name": "x", "startDate": "2026-02-30", "endDate": "2026-03-01"}
                ]
            ),
            "restrictedPeriods",
        ),
    ],
)
def test_a_bad_file_is_refused_with_a_message_saying_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(CallingPolicyError) as caught:
        parse_calling_policy(text, source="policy.json")
    assert "policy.json" in str(caught.value) and says in str(caught.value), str(caught.value)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CallingPolicyError, match="cannot be read"):
        load_calling_policy(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"rules": 3}')
    with pytest.raises(CallingPolicyError, match=r"bad\.json"):
        load_calling_policy(str(bad))


def _check(
    rules: CampaignCallingRules, policy_text: str | None, at: datetime, who: Recipient = CHICAGO
) -> set[ReasonCode]:
    policy = parse_calling_policy(policy_text) if policy_text else None
    result = eligibility(
        rules,
        policy,
        who,
        CallState(),
        campaign_status=CampaignStatus.IN_PROGRESS,
        lines_busy=False,
        now=at,
    )
    return {reason.code for reason in result.reasons}


def test_the_policy_applies_to_a_campaign_of_the_seeds_shape_whose_window_is_wider() -> None:
    # A 24-hour campaign in UTC: at 03:00 UTC it is 21:00 in Chicago, after the policy's end.
    rules = CampaignCallingRules(timezone="UTC", hours=WeeklyHours.single(0, 1440))
    late = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
    assert _check(rules, None, late) == set()
    assert _check(rules, _policy(), late) == {ReasonCode.OUTSIDE_POLICY_HOURS}
    assert _check(rules, _policy(), datetime(2026, 12, 2, 2, 59, tzinfo=UTC)) == set()
    # A number of another country is not covered by a US rule.
    london = Recipient(("Europe/London",), (), "GB")
    assert _check(rules, _policy(), late, london) == set()


def test_policy_holidays_and_periods_are_read_in_the_recipients_zone() -> None:
    rules = CampaignCallingRules(timezone="UTC", hours=WeeklyHours.single(0, 1440))
    text = _policy(
        holidayCalendars=["US"],
        restrictedPeriods=[{"name": "storm", "startDate": "2026-12-03", "endDate": "2026-12-03"}],
    )
    # 04:00 UTC on 5 July is still 4 July (Independence Day) in Chicago... but 23:00: policy hours.
    assert ReasonCode.HOLIDAY in _check(rules, text, datetime(2026, 7, 4, 18, 0, tzinfo=UTC))
    assert _check(rules, text, datetime(2026, 12, 3, 3, 0, tzinfo=UTC)) == {
        ReasonCode.OUTSIDE_POLICY_HOURS
    }
    assert _check(rules, text, datetime(2026, 12, 3, 15, 0, tzinfo=UTC)) == {
        ReasonCode.RESTRICTED_PERIOD
    }


def test_a_policy_rule_needs_the_recipients_zone_even_in_campaign_mode() -> None:
    rules = CampaignCallingRules(timezone="America/Chicago", hours=WeeklyHours.single(0, 1440))
    no_zone = Recipient((), (), "US")
    noon = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)
    assert _check(rules, _policy(), noon, no_zone) == {ReasonCode.UNKNOWN_TIMEZONE}
    assert _check(rules, None, noon, no_zone) == set()
    assumed = CampaignCallingRules(
        timezone="America/Chicago",
        hours=WeeklyHours.single(0, 1440),
        mode=TimezoneMode.CAMPAIGN,
        default_timezone="America/New_York",
    )
    assert _check(assumed, _policy(), noon, no_zone) == set()
