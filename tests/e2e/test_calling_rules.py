"""The calling rules at dial time, with the real processes and counted at the mock carrier:
recipient zones, the calling policy, startAt/autoStart/endAt, blackouts and holidays, a window
that closes while jobs wait, PATCH on a running campaign, and a policy file that is broken.

Nothing is frozen: each window is built around the current time in zones without daylight
saving time (Asia/Kolkata, Asia/Tokyo, Pacific/Honolulu, America/Phoenix), so "the clock there
reads 14:05 next" is an exact instant. All scenarios share one stack, whose policy file closes
Japan and Arizona for the next two hours (and covers nothing else).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import holidays
import phonenumbers
import pytest
import pytest_asyncio

from shared.domain.calling.calendars import holiday_name
from tests.conftest import E2E_SETTINGS
from tests.e2e.helpers import finished, metric_reaches
from tests.support.api_client import ApiClient, MockClient
from tests.support.numbers import fresh_numbers
from tests.support.stack import Stack, full_stack
from tests.support.waiting import holds_for, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

KOLKATA, TOKYO, HONOLULU, PHOENIX = (
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Pacific/Honolulu",
    "America/Phoenix",
)
ALL_DAY = {"startTime": "00:00", "endTime": "24:00"}
#: Calls that last long enough for jobs to wait behind a campaign's few lines.
SLOW_CALLS = {"delayMinMs": 1000, "delayMaxMs": 1400}
#: A dial the worker claimed just before an instant reaches the carrier this soon after it.
CLAIM_TO_CARRIER = timedelta(milliseconds=500)

_japan = itertools.count(10_000_000)
_arizona = itertools.count(2_000_000)


def japan_numbers(count: int) -> list[str]:
    """+81 90 mobiles: country JP, zone Asia/Tokyo."""
    return _valid([f"+8190{next(_japan):08d}" for _ in range(count)])


def arizona_numbers(count: int) -> list[str]:
    """+1 602: country US, region US-AZ."""
    return _valid([f"+1602{next(_arizona):07d}" for _ in range(count)])


def _valid(numbers: list[str]) -> list[str]:
    assert all(phonenumbers.is_valid_number(phonenumbers.parse(n)) for n in numbers)
    return numbers


def local_minute(zone: str, delta: timedelta = timedelta(0)) -> datetime:
    """Now + delta on the zone's wall clock, to the minute (windows start on a minute)."""
    return (datetime.now(UTC) + delta).astimezone(ZoneInfo(zone)).replace(second=0, microsecond=0)


def next_time_at(zone: str, clock: time) -> datetime:
    """The next instant at which the zone's wall clock reads `clock` (zones without DST)."""
    now = datetime.now(ZoneInfo(zone))
    at = now.replace(hour=clock.hour, minute=clock.minute, second=0, microsecond=0)
    return at if at > now else at + timedelta(days=1)


def hours(start: datetime, end: datetime) -> dict[str, str]:
    return {"startTime": f"{start:%H:%M}", "endTime": f"{end:%H:%M}"}


def instant(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def contacts(numbers: list[str], **attributes: str) -> list[dict[str, Any]]:
    return [{"phoneNumber": n, "attributes": dict(attributes)} for n in numbers]


@dataclass(frozen=True)
class PolicyStack:
    stack: Stack
    #: When the policy's Japan and Arizona rules open (both closed when the stack started).
    japan_opens: datetime
    arizona_opens: datetime


def closed_for_two_hours(zone: str) -> tuple[dict[str, str], datetime]:
    """Policy hours that exclude the zone's current hour, and the instant they open."""
    opens = local_minute(zone, timedelta(hours=2))
    return hours(opens, opens + timedelta(hours=2)), opens


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def rules_stack(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> AsyncIterator[PolicyStack]:
    japan_hours, japan_opens = closed_for_two_hours(TOKYO)
    arizona_hours, arizona_opens = closed_for_two_hours(PHOENIX)
    policy = {
        "description": "test policy: Japan (by country) and Arizona (by region) closed now",
        "rules": [
            {"name": "test: Japan", "countries": ["JP"], "hours": japan_hours},
            {"name": "test: Arizona", "regions": ["US-AZ"], "hours": arizona_hours},
        ],
    }
    path = tmp_path_factory.mktemp("policy") / "calling-policy.json"
    path.write_text(json.dumps(policy))
    settings = {**E2E_SETTINGS, "VCS_CALLING_POLICY": str(path)}
    async with full_stack(tmp_path_factory, request, "vcs_rules", settings) as running:
        yield PolicyStack(running, japan_opens, arizona_opens)


@pytest.fixture
def api(rules_stack: PolicyStack, http: aiohttp.ClientSession) -> ApiClient:
    return ApiClient(http, rules_stack.stack.url("api"))


@pytest_asyncio.fixture(loop_scope="session")
async def mock(rules_stack: PolicyStack, http: aiohttp.ClientSession) -> MockClient:
    client = MockClient(http, rules_stack.stack.url("telephony_mock"))
    await client.configure()
    return client


@pytest_asyncio.fixture(loop_scope="session")
async def campaigns(api: ApiClient) -> AsyncIterator[list[str]]:
    """Campaigns a test made; cancelled after it, so none keeps lines busy for the next."""
    made: list[str] = []
    yield made
    for campaign_id in made:
        if (await api.campaign(campaign_id))["status"] in ("PENDING", "IN_PROGRESS", "PAUSED"):
            await api.action(campaign_id, "cancel")


async def create(api: ApiClient, made: list[str], *, start: bool = True, **fields: Any) -> str:
    campaign = await api.create_campaign(**fields)
    made.append(campaign["id"])
    if start:
        await api.action(campaign["id"], "start")
    return str(campaign["id"])


async def eligibility(api: ApiClient, call_id: str) -> dict[str, Any]:
    answer = await api.request("GET", f"/api/v1/calls/{call_id}/eligibility")
    assert answer.status == 200, answer.body
    return dict(answer.body)


async def inventory(api: ApiClient, campaign_id: str) -> dict[str, Any]:
    answer = await api.request("GET", f"/api/v1/campaigns/{campaign_id}/inventory")
    assert answer.status == 200, answer.body
    return dict(answer.body)


async def patch(api: ApiClient, campaign_id: str, **fields: Any) -> dict[str, Any]:
    answer = await api.request("PATCH", f"/api/v1/campaigns/{campaign_id}", json=fields)
    assert answer.status == 200, answer.body
    return dict(answer.body)


def codes(answer: dict[str, Any]) -> list[str]:
    return [reason["code"] for reason in answer["reasons"]]


async def dialled(mock: MockClient, campaign_id: str) -> list[dict[str, Any]]:
    return [d for d in await mock.calls(campaignId=campaign_id) if d["placed"]]


async def nothing_more_dialled(mock: MockClient, campaign_id: str, seconds: float) -> None:
    before = len(await mock.calls(campaignId=campaign_id))

    async def unchanged() -> bool:
        return len(await mock.calls(campaignId=campaign_id)) == before

    await holds_for(unchanged, duration=seconds, interval=0.2)


async def _after(moment: datetime) -> bool:
    return datetime.now(UTC) >= moment


async def _count(mock: MockClient, campaign_id: str, at_least: int) -> bool:
    return len(await mock.calls(campaignId=campaign_id)) >= at_least


def attempt_starts(calls: list[dict[str, Any]]) -> dict[tuple[str, int], datetime]:
    """(call id, attempt number) -> when its claim happened."""
    return {
        (call["id"], attempt["attemptNumber"]): datetime.fromisoformat(attempt["startedAt"])
        for call in calls
        for attempt in call["attempts"]
    }


def assert_claimed_before(
    dials: list[dict[str, Any]], calls: list[dict[str, Any]], instant: datetime
) -> None:
    """Every dial the carrier received was claimed before `instant`, and reached it at once."""
    starts = attempt_starts(calls)
    for dial in dials:
        claimed = starts[(dial["callId"], dial["attemptNo"])]
        assert claimed < instant, f"{dial['phoneNumber']} claimed at {claimed}, after {instant}"
        assert datetime.fromisoformat(dial["receivedAt"]) < instant + CLAIM_TO_CARRIER, dial


async def test_recipient_mode_dials_only_the_zones_whose_window_is_open(
    api: ApiClient, mock: MockClient, campaigns: list[str]
) -> None:
    # Local clocks now run Kolkata +0, Tokyo +3:30, Honolulu +8:30, Phoenix +11:30 (mod 24):
    # a five-hour window from half an hour ago in Kolkata covers Kolkata and Tokyo only.
    opens = local_minute(KOLKATA, timedelta(minutes=-30))
    window = hours(opens, opens + timedelta(hours=5))
    by_zone = {zone: fresh_numbers(3) for zone in (KOLKATA, TOKYO, HONOLULU, PHOENIX)}
    campaign_id = await create(
        api,
        campaigns,
        name="four zones",
        contacts=[c for zone, ns in by_zone.items() for c in contacts(ns, timezone=zone)],
        businessHours={**window, "timezoneMode": "RECIPIENT"},
    )

    await metric_reaches(api, campaign_id, "completedCalls", 6, timeout=30)
    await nothing_more_dialled(mock, campaign_id, 1.5)
    placed = {d["phoneNumber"] for d in await dialled(mock, campaign_id)}
    assert placed == set(by_zone[KOLKATA] + by_zone[TOKYO])

    calls = {c["phoneNumber"]: c for c in await api.calls(campaign_id)}
    for zone in (HONOLULU, PHOENIX):
        for number in by_zone[zone]:
            answer = await eligibility(api, calls[number]["id"])
            assert codes(answer) == ["OUTSIDE_CAMPAIGN_WINDOW"], answer
            assert answer["timezone"] == zone
            assert instant(answer["nextEligibleAt"]) == next_time_at(zone, opens.time())
    counted = await inventory(api, campaign_id)
    assert counted["dialableNow"] == 0
    assert counted["waiting"] == {"OUTSIDE_CAMPAIGN_WINDOW": 6}
    assert counted["final"]["COMPLETED"] == 6
    assert instant(counted["nextOpeningAt"]) == min(
        next_time_at(zone, opens.time()) for zone in (HONOLULU, PHOENIX)
    )


async def test_the_policy_closes_a_country_and_a_region_whatever_the_campaign_allows(
    api: ApiClient, mock: MockClient, campaigns: list[str], rules_stack: PolicyStack
) -> None:
    japan, arizona, california = japan_numbers(3), arizona_numbers(3), fresh_numbers(3)
    recipient_id = await create(
        api,
        campaigns,
        name="policy, recipient mode",
        contacts=contacts(japan, timezone=TOKYO)
        + contacts(arizona, timezone=PHOENIX)
        + contacts(california, timezone="America/Los_Angeles"),
        businessHours={**ALL_DAY, "timezoneMode": "RECIPIENT"},
    )
    # In CAMPAIGN mode too: the policy is read in the recipient's time all the same.
    campaign_mode_id = await create(
        api,
        campaigns,
        name="policy, campaign mode",
        phoneNumbers=japan_numbers(2),
        businessHours={**ALL_DAY, "timezone": "UTC"},
    )

    await metric_reaches(api, recipient_id, "completedCalls", 3, timeout=30)
    await nothing_more_dialled(mock, recipient_id, 1.5)
    assert {d["phoneNumber"] for d in await dialled(mock, recipient_id)} == set(california)
    assert await mock.calls(campaignId=campaign_mode_id) == []

    calls = {c["phoneNumber"]: c for c in await api.calls(recipient_id)}
    calls.update({c["phoneNumber"]: c for c in await api.calls(campaign_mode_id)})
    expected = {TOKYO: rules_stack.japan_opens, PHOENIX: rules_stack.arizona_opens}
    for number, call in calls.items():
        if number in california:
            continue
        answer = await eligibility(api, call["id"])
        assert codes(answer) == ["OUTSIDE_POLICY_HOURS"], answer
        assert instant(answer["nextEligibleAt"]) == expected[answer["timezone"]]
    assert (await inventory(api, campaign_mode_id))["waiting"] == {"OUTSIDE_POLICY_HOURS": 2}


async def test_start_at_holds_every_dial_and_auto_start_starts_by_itself(
    api: ApiClient, mock: MockClient, campaigns: list[str]
) -> None:
    now = datetime.now(UTC)
    start_at = now + timedelta(seconds=4)
    not_before = start_at + timedelta(seconds=2)
    plain, late, expiring = fresh_numbers(3), fresh_numbers(1), fresh_numbers(1)
    started_id = await create(
        api,
        campaigns,
        name="starts later",
        contacts=contacts(plain)
        + contacts(late, notBefore=not_before.isoformat())
        + contacts(expiring, expiresAt=(now + timedelta(seconds=2)).isoformat()),
        businessHours=ALL_DAY,
        startAt=start_at.isoformat(),
    )
    auto_id = await create(
        api,
        campaigns,
        start=False,
        name="starts itself",
        phoneNumbers=fresh_numbers(3),
        businessHours=ALL_DAY,
        startAt=start_at.isoformat(),
        autoStart=True,
    )
    started = await api.campaign(started_id)
    assert started["status"] == "IN_PROGRESS"
    assert instant(started["nextDialAt"]) == start_at
    assert (await api.campaign(auto_id))["status"] == "PENDING"

    async def nothing_dialled() -> bool:
        return not await mock.calls(campaignId=started_id) + await mock.calls(campaignId=auto_id)

    before_start = (start_at - datetime.now(UTC)).total_seconds() - 0.2
    assert before_start > 1, "the campaigns took too long to create"
    await holds_for(nothing_dialled, duration=before_start)

    assert (await finished(api, auto_id, timeout=30))["status"] == "COMPLETED"
    assert (await finished(api, started_id, timeout=30))["status"] == "COMPLETED"
    auto_campaign = await api.campaign(auto_id)
    assert instant(auto_campaign["startedAt"]) >= start_at  # type: ignore[operator]
    for campaign_id in (started_id, auto_id):
        for dial in await mock.calls(campaignId=campaign_id):
            assert datetime.fromisoformat(dial["receivedAt"]) >= start_at, dial
    [late_dial] = await mock.calls(phoneNumber=late[0])
    assert datetime.fromisoformat(late_dial["receivedAt"]) >= not_before
    assert await mock.calls(phoneNumber=expiring[0]) == []
    calls = {c["phoneNumber"]: c for c in await api.calls(started_id)}
    assert (calls[expiring[0]]["status"], calls[expiring[0]]["failureReason"]) == (
        "CANCELLED",
        "EXPIRED",
    )
    assert {calls[n]["status"] for n in plain + late} == {"COMPLETED"}


async def test_end_at_stops_dialling_and_ends_the_campaign(
    api: ApiClient, mock: MockClient, campaigns: list[str]
) -> None:
    await mock.configure(**SLOW_CALLS)
    end_at = datetime.now(UTC) + timedelta(seconds=3)
    campaign_id = await create(
        api,
        campaigns,
        name="ends soon",
        phoneNumbers=fresh_numbers(30),
        concurrencyLimit=3,
        businessHours=ALL_DAY,
        endAt=end_at.isoformat(),
    )

    assert (await finished(api, campaign_id, timeout=30))["status"] == "COMPLETED"
    dials = await mock.calls(campaignId=campaign_id)
    calls = await api.calls(campaign_id)
    assert len(dials) >= 3
    assert_claimed_before(dials, calls, end_at)
    never_dialled = [c for c in calls if not c["attempts"]]
    assert len(never_dialled) >= 15
    assert {(c["status"], c["failureReason"]) for c in never_dialled} == {
        ("CANCELLED", "CAMPAIGN_ENDED")
    }
    # Calls live at endAt were let finish.
    assert {c["status"] for c in calls if c["attempts"]} == {"COMPLETED"}


def today_and_next_midnight(zone: str) -> tuple[date, datetime]:
    local = datetime.now(ZoneInfo(zone))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return local.date(), midnight


def calendar_with_a_holiday_on(day: date) -> str | None:
    """A calendar of the holidays package that has a public holiday on `day`, if any."""
    for country, subdivisions in holidays.list_supported_countries().items():
        for code in (country, *(f"{country}-{s}" for s in subdivisions)):
            if holiday_name(code, day) is not None:
                return code
    return None


async def test_a_blackout_or_a_holiday_today_blocks_until_the_next_free_day(
    api: ApiClient, mock: MockClient, campaigns: list[str]
) -> None:
    # The zone whose clock is nearest noon: "today" does not change during the test.
    zone = min(
        (KOLKATA, TOKYO, HONOLULU, PHOENIX),
        key=lambda z: abs(datetime.now(ZoneInfo(z)).hour - 12),
    )
    today, midnight = today_and_next_midnight(zone)
    blackout_id = await create(
        api,
        campaigns,
        name="blackout today",
        phoneNumbers=fresh_numbers(3),
        businessHours={**ALL_DAY, "timezone": zone},
        restrictedPeriods=[{"name": "today", "startDate": f"{today}", "endDate": f"{today}"}],
    )
    blocked = {blackout_id: ("RESTRICTED_PERIOD", midnight)}
    # Which calendar has a holiday today depends on the date; among the package's hundreds
    # of country and subdivision calendars one nearly always has (the test says so if not).
    calendar = calendar_with_a_holiday_on(today)
    if calendar is not None:
        reopens = midnight
        while holiday_name(calendar, reopens.date()) is not None:
            reopens += timedelta(days=1)
        holiday_id = await create(
            api,
            campaigns,
            name=f"holiday today in {calendar}",
            phoneNumbers=fresh_numbers(3),
            businessHours={**ALL_DAY, "timezone": zone},
            holidayCalendars=[calendar],
        )
        blocked[holiday_id] = ("HOLIDAY", reopens)
    # An open campaign alongside, so that "nothing dialled" is not an idle stack.
    open_id = await create(api, campaigns, name="open", phoneNumbers=fresh_numbers(2))

    await finished(api, open_id, timeout=30)
    for campaign_id in blocked:
        await nothing_more_dialled(mock, campaign_id, 1.0)
        assert await mock.calls(campaignId=campaign_id) == []
    for campaign_id, (code, reopens) in blocked.items():
        [call, *_] = await api.calls(campaign_id)
        answer = await eligibility(api, call["id"])
        assert codes(answer) == [code], answer
        assert instant(answer["nextEligibleAt"]) == reopens
    if calendar is None:
        pytest.skip(f"no holiday calendar has a holiday on {today}: only the blackout ran")


async def test_a_window_that_closes_while_jobs_wait_stops_dialling_at_its_instant(
    api: ApiClient, mock: MockClient, campaigns: list[str]
) -> None:
    await mock.configure(**SLOW_CALLS)
    # Windows are whole minutes; a blackout from an instant closes at any second, through
    # the same zone-group window the claim reads.
    closes = datetime.now(UTC) + timedelta(seconds=3.5)
    reopens = closes + timedelta(hours=1)
    campaign_id = await create(
        api,
        campaigns,
        name="closes while busy",
        phoneNumbers=fresh_numbers(60),
        concurrencyLimit=5,
        businessHours=ALL_DAY,
        restrictedPeriods=[
            {"name": "closes", "start": closes.isoformat(), "end": reopens.isoformat()}
        ],
    )

    await wait_until(
        lambda: _after(closes + timedelta(seconds=1)), timeout=10, message="past the close"
    )
    await nothing_more_dialled(mock, campaign_id, 1.5)
    dials = await mock.calls(campaignId=campaign_id)
    calls = await api.calls(campaign_id)
    assert_claimed_before(dials, calls, closes)
    # It was dialling right up to the close, with numbers still waiting.
    received = [datetime.fromisoformat(d["receivedAt"]) for d in dials]
    assert any(closes - timedelta(seconds=1.5) <= at < closes for at in received), received
    waiting = [c for c in calls if c["status"] == "PENDING"]
    assert len(waiting) >= 30
    answer = await eligibility(api, waiting[0]["id"])
    assert codes(answer) == ["RESTRICTED_PERIOD"], answer
    assert instant(answer["nextEligibleAt"]) == reopens


async def test_patch_on_a_running_campaign_takes_effect_within_seconds(
    api: ApiClient, mock: MockClient, campaigns: list[str]
) -> None:
    await mock.configure(**SLOW_CALLS)
    campaign_id = await create(
        api,
        campaigns,
        name="patched while running",
        phoneNumbers=fresh_numbers(40),
        concurrencyLimit=3,
        businessHours={**ALL_DAY, "timezone": KOLKATA},
    )
    await wait_until(lambda: _count(mock, campaign_id, 3), timeout=15, message="the first dials")

    opens = local_minute(KOLKATA, timedelta(hours=2))
    await patch(
        api,
        campaign_id,
        businessHours={**hours(opens, opens + timedelta(hours=1)), "timezone": KOLKATA},
    )
    narrowed = datetime.now(UTC)
    await nothing_more_dialled(mock, campaign_id, 1.5)
    assert_claimed_before(
        await mock.calls(campaignId=campaign_id), await api.calls(campaign_id), narrowed
    )
    waiting = [c for c in await api.calls(campaign_id) if c["status"] == "PENDING"]
    answer = await eligibility(api, waiting[0]["id"])
    assert codes(answer) == ["OUTSIDE_CAMPAIGN_WINDOW"], answer
    assert instant(answer["nextEligibleAt"]) == opens

    # endAt moved to now: the waiting numbers end and the campaign completes.
    await patch(api, campaign_id, endAt=datetime.now(UTC).isoformat())
    assert (await finished(api, campaign_id, timeout=15))["status"] == "COMPLETED"
    ended = [c for c in await api.calls(campaign_id) if not c["attempts"]]
    assert ended and {(c["status"], c["failureReason"]) for c in ended} == {
        ("CANCELLED", "CAMPAIGN_ENDED")
    }


async def test_a_policy_file_that_does_not_parse_stops_the_services(
    rules_stack: PolicyStack, tmp_path: Path
) -> None:
    not_json = tmp_path / "not-json.json"
    not_json.write_text('{"rules": [')
    misspelt = tmp_path / "misspelt.json"
    rule = {"name": "US", "countries": ["US"], "hours": ALL_DAY, "enabeld": False}
    misspelt.write_text(json.dumps({"rules": [rule]}))
    # Each service, each kind of breakage once: a file that is not JSON, and a misspelt field
    # (which must not be ignored: it could leave a rule on or off unseen).
    cases = [("api", not_json, "not JSON"), ("dispatcher", misspelt, "rules.0.enabeld")]
    runs = await asyncio.gather(
        *(
            rules_stack.stack.run_until_exit(
                module, f"{module}-broken", VCS_CALLING_POLICY=str(path)
            )
            for module, path, _ in cases
        )
    )
    for (code, log), (_, path, reason) in zip(runs, cases, strict=True):
        assert code != 0, log
        assert "calling policy unusable" in log and str(path) in log and reason in log, log
