"""Eligibility of one call and the window of a group: each rule, DST, midnight, several zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from shared.domain.calling import (
    CallingPolicy,
    CallState,
    CampaignCallingRules,
    Eligibility,
    PolicyRule,
    ReasonCode,
    Recipient,
    RestrictedPeriod,
    TimezoneMode,
    WeeklyHours,
    eligibility,
    group_window,
)
from shared.domain.statuses import CallStatus, CampaignStatus

NEW_YORK = ZoneInfo("America/New_York")
NY = Recipient(("America/New_York",), ("US-NY",), "US")
CHICAGO_AND_DENVER = Recipient(("America/Chicago", "America/Denver"), ("US-NE",), "US")
NINE_TO_SIX = WeeklyHours.single(9 * 60, 18 * 60)
FEDERAL = CallingPolicy(
    rules=(PolicyRule("federal", frozenset({"US"}), frozenset(), WeeklyHours.single(480, 1260)),)
)
RUNNING = CampaignStatus.IN_PROGRESS


def recipient_rules(hours: WeeklyHours = NINE_TO_SIX, **extra: object) -> CampaignCallingRules:
    return CampaignCallingRules(
        timezone="UTC",
        hours=hours,
        mode=TimezoneMode.RECIPIENT,
        **extra,  # type: ignore[arg-type]
    )


def check(
    rules: CampaignCallingRules,
    now: datetime,
    who: Recipient = NY,
    state: CallState | None = None,
    *,
    policy: CallingPolicy | None = None,
    status: CampaignStatus = RUNNING,
    busy: bool = False,
) -> Eligibility:
    return eligibility(
        rules, policy, who, state or CallState(), campaign_status=status, lines_busy=busy, now=now
    )


def codes(result: Eligibility) -> set[ReasonCode]:
    return {reason.code for reason in result.reasons}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_open_now_is_eligible_now() -> None:
    now = utc(2026, 12, 2, 15, 0)  # 10:00 in New York
    result = check(recipient_rules(), now)
    assert result.eligible and result.reasons == [] and result.next_eligible_at == now
    assert result.as_json() == {
        "eligible": True,
        "reasons": [],
        "nextEligibleAt": "2026-12-02T15:00:00Z",
        "timezone": "America/New_York",
        "localTime": "2026-12-02T10:00-05:00",
    }


def test_outside_the_window_says_where_and_when() -> None:
    result = check(recipient_rules(), utc(2026, 12, 2, 23, 30))  # 18:30 in New York
    assert codes(result) == {ReasonCode.OUTSIDE_CAMPAIGN_WINDOW}
    assert "18:30" in result.reasons[0].detail and "America/New_York" in result.reasons[0].detail
    assert "after 18:00" in result.reasons[0].detail
    assert result.next_eligible_at == utc(2026, 12, 3, 14, 0)


def test_campaign_mode_reads_the_window_in_the_campaigns_zone() -> None:
    rules = CampaignCallingRules(timezone="America/Chicago", hours=NINE_TO_SIX)
    # 14:30 UTC: 08:30 in Chicago (closed) though 09:30 in New York.
    result = check(rules, utc(2026, 12, 2, 14, 30))
    assert codes(result) == {ReasonCode.OUTSIDE_CAMPAIGN_WINDOW}
    assert "America/Chicago" in result.reasons[0].detail
    assert result.next_eligible_at == utc(2026, 12, 2, 15, 0)


def test_several_candidate_zones_must_all_allow_the_moment() -> None:
    rules = recipient_rules()
    # Winter: 09:00 in Denver is 16:00 UTC; 18:00 in Chicago is 00:00 UTC.
    assert not check(rules, utc(2026, 12, 2, 15, 30), CHICAGO_AND_DENVER).eligible
    assert check(rules, utc(2026, 12, 2, 16, 0), CHICAGO_AND_DENVER).eligible
    assert check(rules, utc(2026, 12, 2, 23, 59), CHICAGO_AND_DENVER).eligible
    late = check(rules, utc(2026, 12, 3, 0, 0), CHICAGO_AND_DENVER)
    assert not late.eligible and "America/Chicago" in late.reasons[0].detail
    assert late.next_eligible_at == utc(2026, 12, 3, 16, 0)
    assert late.timezone == ("America/Chicago", "America/Denver")
    assert late.as_json()["localTime"] == ["2026-12-02T18:00-06:00", "2026-12-02T17:00-07:00"]


def test_the_policy_narrows_the_campaign_window() -> None:
    wide = recipient_rules(WeeklyHours.single(6 * 60, 23 * 60))
    at_seven = utc(2026, 12, 2, 12, 0)  # 07:00 in New York
    assert check(wide, at_seven).eligible
    result = check(wide, at_seven, policy=FEDERAL)
    assert codes(result) == {ReasonCode.OUTSIDE_POLICY_HOURS}
    assert "before 08:00" in result.reasons[0].detail
    assert result.next_eligible_at == utc(2026, 12, 2, 13, 0)


def test_spring_forward_a_window_containing_the_skipped_hour() -> None:
    # 2026-03-08: New York goes from 02:00 EST to 03:00 EDT at 07:00 UTC.
    rules = recipient_rules(WeeklyHours.single(2 * 60 + 30, 3 * 60 + 30))
    before = utc(2026, 3, 8, 6, 0)  # 01:00 EST
    result = check(rules, before)
    assert result.next_eligible_at == utc(2026, 3, 8, 7, 0)  # 03:00 EDT, the first open minute
    assert check(rules, utc(2026, 3, 8, 7, 29)).eligible  # 03:29 EDT
    assert not check(rules, utc(2026, 3, 8, 7, 30)).eligible  # 03:30 EDT
    window = group_window(rules, None, NY, utc(2026, 3, 8, 7, 10))
    assert window.open and window.until == utc(2026, 3, 8, 7, 30)


def test_spring_forward_a_window_inside_the_skipped_hour_waits_a_day() -> None:
    rules = recipient_rules(WeeklyHours.single(2 * 60 + 15, 2 * 60 + 45))
    result = check(rules, utc(2026, 3, 8, 5, 0))
    assert result.next_eligible_at == datetime(2026, 3, 9, 2, 15, tzinfo=NEW_YORK)


def test_fall_back_the_repeated_hour_opens_twice() -> None:
    # 2026-11-01: New York goes from 02:00 EDT back to 01:00 EST at 06:00 UTC.
    rules = recipient_rules(WeeklyHours.single(60, 90))  # 01:00-01:30
    assert check(rules, utc(2026, 11, 1, 5, 0)).eligible  # 01:00 EDT
    after_first = check(rules, utc(2026, 11, 1, 5, 30))  # 01:30 EDT
    assert not after_first.eligible
    assert after_first.next_eligible_at == utc(2026, 11, 1, 6, 0)  # 01:00 EST
    window = group_window(rules, None, NY, utc(2026, 11, 1, 6, 5))
    assert window.open and window.until == utc(2026, 11, 1, 6, 30)


def test_a_window_crossing_midnight() -> None:
    rules = recipient_rules(WeeklyHours.single(22 * 60, 2 * 60, frozenset(range(1, 6))))
    # Friday 2026-12-04 23:00 New York open; Saturday 01:00 closed; next: Monday 00:00.
    assert check(rules, datetime(2026, 12, 4, 23, 0, tzinfo=NEW_YORK)).eligible
    saturday = check(rules, datetime(2026, 12, 5, 1, 0, tzinfo=NEW_YORK))
    assert codes(saturday) == {ReasonCode.OUTSIDE_CAMPAIGN_WINDOW}
    assert "closed all day on SATURDAY" in saturday.reasons[0].detail
    assert saturday.next_eligible_at == datetime(2026, 12, 7, 0, 0, tzinfo=NEW_YORK)
    window = group_window(rules, None, NY, datetime(2026, 12, 7, 1, 0, tzinfo=NEW_YORK))
    assert window.until == datetime(2026, 12, 7, 2, 0, tzinfo=NEW_YORK)


def test_holidays_in_the_recipients_zone_and_in_the_campaigns() -> None:
    rules = recipient_rules(holiday_calendars=("US",))
    christmas = check(rules, datetime(2026, 12, 25, 10, 0, tzinfo=NEW_YORK))
    assert codes(christmas) == {ReasonCode.HOLIDAY}
    assert "Christmas Day" in christmas.reasons[0].detail
    assert christmas.next_eligible_at == datetime(2026, 12, 26, 9, 0, tzinfo=NEW_YORK)
    # In campaign mode the date is the campaign's: 10:00 on 26 Dec in Kiritimati is Christmas
    # Day in New York, but not a holiday there.
    campaign = CampaignCallingRules(
        timezone="Pacific/Kiritimati", hours=WeeklyHours.single(0, 1440), holiday_calendars=("US",)
    )
    assert check(
        campaign, datetime(2026, 12, 26, 10, 0, tzinfo=ZoneInfo("Pacific/Kiritimati"))
    ).eligible


def test_restricted_periods_across_the_year_end() -> None:
    period = RestrictedPeriod("year end", date(2026, 12, 31), date(2027, 1, 1))
    rules = recipient_rules(restricted_periods=(period,))
    result = check(rules, datetime(2026, 12, 31, 12, 0, tzinfo=NEW_YORK))
    assert (
        codes(result) == {ReasonCode.RESTRICTED_PERIOD} and "year end" in result.reasons[0].detail
    )
    assert result.next_eligible_at == datetime(2027, 1, 2, 9, 0, tzinfo=NEW_YORK)


def test_restricted_local_times_and_absolute_instants() -> None:
    local = RestrictedPeriod(
        "lunch", start=datetime(2026, 12, 2, 12), end=datetime(2026, 12, 2, 13)
    )
    absolute = RestrictedPeriod(
        "outage", start=utc(2026, 12, 2, 19, 0), end=utc(2026, 12, 2, 19, 30)
    )
    rules = recipient_rules(restricted_periods=(local, absolute))
    noon = check(rules, datetime(2026, 12, 2, 12, 15, tzinfo=NEW_YORK))
    assert codes(noon) == {ReasonCode.RESTRICTED_PERIOD}
    assert noon.next_eligible_at == datetime(2026, 12, 2, 13, 0, tzinfo=NEW_YORK)
    outage = check(rules, utc(2026, 12, 2, 19, 10))
    assert codes(outage) == {ReasonCode.RESTRICTED_PERIOD}
    assert outage.next_eligible_at == utc(2026, 12, 2, 19, 30)


def test_campaign_schedule() -> None:
    start, end = utc(2026, 12, 3, 16, 0), utc(2026, 12, 10, 0, 0)
    rules = recipient_rules(start_at=start, end_at=end)
    early = check(rules, utc(2026, 12, 2, 15, 0))
    assert codes(early) == {ReasonCode.CAMPAIGN_NOT_STARTED_YET}
    assert early.next_eligible_at == start
    # After its window closes on the last day, nothing more: next is None.
    last = check(rules, utc(2026, 12, 9, 23, 30))
    assert codes(last) == {ReasonCode.OUTSIDE_CAMPAIGN_WINDOW} and last.next_eligible_at is None
    ended = check(rules, end)
    assert ReasonCode.CAMPAIGN_ENDED in codes(ended) and ended.next_eligible_at is None


def test_call_state_reasons() -> None:
    rules = recipient_rules()
    now = utc(2026, 12, 2, 15, 0)
    final = check(rules, now, state=CallState(CallStatus.COMPLETED))
    assert codes(final) == {ReasonCode.FINAL} and final.next_eligible_at is None
    live = check(rules, now, state=CallState(CallStatus.IN_PROGRESS))
    assert codes(live) == {ReasonCode.CALL_IN_PROGRESS}
    # A retry due after the window closes waits for the next opening.
    retry = CallState(CallStatus.FAILED, next_retry_at=utc(2026, 12, 2, 23, 30))
    waiting = check(rules, now, state=retry)
    assert codes(waiting) == {ReasonCode.RETRY_NOT_DUE}
    assert waiting.next_eligible_at == utc(2026, 12, 3, 14, 0)
    assert check(rules, utc(2026, 12, 3, 14, 0), state=retry).eligible
    later = CallState(not_before=utc(2026, 12, 2, 16, 0), expires_at=utc(2026, 12, 2, 17, 0))
    assert codes(check(rules, now, state=later)) == {ReasonCode.NOT_YET_VALID}
    assert check(rules, now, state=later).next_eligible_at == utc(2026, 12, 2, 16, 0)
    expired = check(rules, utc(2026, 12, 2, 17, 0), state=later)
    assert codes(expired) == {ReasonCode.EXPIRED} and expired.next_eligible_at is None


def test_campaign_status_and_lines() -> None:
    rules = recipient_rules()
    now = utc(2026, 12, 2, 15, 0)
    paused = check(rules, now, status=CampaignStatus.PAUSED)
    assert codes(paused) == {ReasonCode.CAMPAIGN_NOT_RUNNING} and paused.next_eligible_at == now
    done = check(rules, now, status=CampaignStatus.COMPLETED)
    assert done.next_eligible_at is None
    busy = check(rules, now, busy=True)
    assert codes(busy) == {ReasonCode.LINES_BUSY} and busy.next_eligible_at == now


def test_unknown_time_zone_fails_closed_unless_a_default_is_given() -> None:
    nowhere = Recipient((), (), None)
    now = utc(2026, 12, 2, 15, 0)
    result = check(recipient_rules(), now, nowhere)
    assert codes(result) == {ReasonCode.UNKNOWN_TIMEZONE} and result.next_eligible_at is None
    assert result.as_json()["timezone"] is None
    bad = check(recipient_rules(), now, Recipient(("Mars/Olympus_Mons",), (), "US"))
    assert (
        codes(bad) == {ReasonCode.UNKNOWN_TIMEZONE} and "Mars/Olympus_Mons" in bad.reasons[0].detail
    )
    # A campaign-mode campaign without a policy for the number never reads its zone.
    campaign = CampaignCallingRules(timezone="America/New_York", hours=NINE_TO_SIX)
    assert check(campaign, now, Recipient(("Mars/Olympus_Mons",), (), "GB")).eligible
    assert not check(campaign, now, Recipient(("Mars/X",), (), "US"), policy=FEDERAL).eligible
    defaulted = check(recipient_rules(default_timezone="America/New_York"), now, nowhere)
    assert defaulted.eligible and defaulted.timezone == "America/New_York"


@pytest.mark.parametrize(
    ("zones", "hours"),
    [
        # Campaign open only on Sundays, policy never on Sundays.
        (("America/New_York",), WeeklyHours.per_day({7: [(600, 700)]})),
        # 09:00-10:00 in Honolulu and in Kathmandu never coincide.
        (("Pacific/Honolulu", "Asia/Kathmandu"), WeeklyHours.single(540, 600)),
    ],
)
def test_never_open_gives_no_next_instant(zones: tuple[str, ...], hours: WeeklyHours) -> None:
    policy = CallingPolicy(
        rules=(
            PolicyRule(
                "no sundays",
                frozenset({"US"}),
                frozenset(),
                WeeklyHours.single(0, 1440, range(1, 7)),
            ),
        )
    )
    result = check(
        recipient_rules(hours), utc(2026, 12, 2, 15, 0), Recipient(zones, (), "US"), policy=policy
    )
    assert not result.eligible and result.next_eligible_at is None
    window = group_window(
        recipient_rules(hours), policy, Recipient(zones, (), "US"), utc(2026, 12, 2)
    )
    assert not window.open and window.next_opening is None


def test_group_window_is_cached_but_always_right() -> None:
    rules = recipient_rules()
    opening = group_window(rules, FEDERAL, CHICAGO_AND_DENVER, utc(2026, 12, 2, 12, 0))
    assert not opening.open and opening.next_opening == utc(2026, 12, 2, 16, 0)
    assert {r.code for r in opening.reasons} == {
        ReasonCode.OUTSIDE_CAMPAIGN_WINDOW,
        ReasonCode.OUTSIDE_POLICY_HOURS,
    }
    # Minutes later, from the cache: the same answer, with reasons at the new local time.
    again = group_window(rules, FEDERAL, CHICAGO_AND_DENVER, utc(2026, 12, 2, 12, 7))
    assert again.next_opening == opening.next_opening and "06:07" in again.reasons[0].detail
    now_open = group_window(rules, FEDERAL, CHICAGO_AND_DENVER, utc(2026, 12, 2, 16, 0))
    assert now_open.open and now_open.until == utc(2026, 12, 3, 0, 0) and now_open.reasons == []
    for minute in range(0, 8 * 60, 37):
        moment = utc(2026, 12, 2, 16, 0) + timedelta(minutes=minute)
        assert group_window(rules, FEDERAL, CHICAGO_AND_DENVER, moment).until == utc(2026, 12, 3)
