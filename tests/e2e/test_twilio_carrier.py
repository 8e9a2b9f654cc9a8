"""Campaigns dialled with VCS_TELEPHONY_PROVIDER=twilio through the mock carrier's
Twilio-compatible HTTP API, results arriving as signed form callbacks at the api."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.conftest import E2E_SETTINGS
from tests.e2e.helpers import assert_never_two_live_calls_per_number, finished
from tests.support.api_client import ApiClient, MockClient
from tests.support.numbers import fresh_numbers
from tests.support.stack import Stack, full_stack
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

TWILIO = {
    **E2E_SETTINGS,
    "VCS_TELEPHONY_PROVIDER": "twilio",
    "VCS_TWILIO_ACCOUNT_SID": "AC00000000000000000000000000000e2e",
    "VCS_TWILIO_AUTH_TOKEN": "e2e-twilio-auth-token",
    "VCS_TWILIO_FROM": "+15005550006",
    "VCS_BREAKER_FAIL_MAX": "5",
    "VCS_TWILIO_MACHINE_DETECTION": "Enable",
}
RETRIES = {
    "maxRetries": 2,
    "syncInitialBackoffMs": 20,
    "syncBackoffMultiplier": 2.0,
    "callbackRetryDelayMs": 100,
    # Lost callbacks end by this timeout.
    "callbackTimeoutMs": 3000,
}


def addresses(stack: Stack) -> dict[str, str]:
    mock = stack.url("telephony_mock")
    return {
        "VCS_TWILIO_BASE_URL": mock,
        "VCS_TWILIO_TWIML_URL": f"{mock}/mock/twiml",
        "VCS_PUBLIC_BASE_URL": stack.url("api"),
    }


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def twilio_stack(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> AsyncIterator[Stack]:
    async with full_stack(tmp_path_factory, request, "vcs_twilio", TWILIO, addresses) as running:
        yield running


@pytest.fixture
def api(twilio_stack: Stack, http: aiohttp.ClientSession) -> ApiClient:
    return ApiClient(http, twilio_stack.url("api"))


@pytest.fixture
def mock(twilio_stack: Stack, http: aiohttp.ClientSession) -> MockClient:
    return MockClient(http, twilio_stack.url("telephony_mock"))


async def breaker_states(stack: Stack, http: aiohttp.ClientSession) -> list[str]:
    states = []
    for name in [n for n in stack.services if n.startswith("worker")]:
        async with http.get(f"{stack.url(name)}/health") as response:
            states.append(
                str((await response.json())["components"]["telephony"]["circuitBreaker"]).lower()
            )
    return states


async def test_a_campaign_through_the_twilio_api_with_a_rough_carrier(
    api: ApiClient, mock: MockClient, twilio_stack: Stack
) -> None:
    numbers = fresh_numbers(300)
    invalid = numbers[:5]
    await mock.configure(
        failureRate=0.15,
        noCallbackRate=0.02,
        syncErrorRate=0.03,
        rateLimitedRate=0.02,
        duplicateCallbackRate=0.3,
        outOfOrderCallbackRate=0.3,
        scenarios={number: ["invalid"] for number in invalid},
    )
    campaign = await api.create_campaign(
        name="twilio", phoneNumbers=numbers, concurrencyLimit=7, retryConfig=RETRIES
    )
    await api.action(campaign["id"], "start")

    # A worker dies holding calls; the jobs it held are redelivered to the others.
    async def some_completed() -> bool:
        return bool((await api.campaign(campaign["id"]))["metrics"]["completedCalls"] >= 60)

    await wait_until(some_completed, timeout=60, interval=0.2, message="60 calls completed")
    twilio_stack.kill("worker-2")
    await twilio_stack.start("worker", "worker-3")

    done = await finished(api, campaign["id"], timeout=180)
    assert done["status"] == "COMPLETED"
    metrics = done["metrics"]
    assert metrics["pendingCalls"] == metrics["inProgressCalls"] == 0

    stats = await mock.stats()
    assert stats["campaigns"][campaign["id"]]["maxLive"] <= 7
    dials = await mock.calls(campaignId=campaign["id"])
    placed = [d for d in dials if d["placed"]]
    assert all(d["channel"] == "twilio" for d in dials)
    # No attempt ever became two carrier calls, and no number more than maxRetries + 1.
    per_attempt = Counter((d["callId"], d["attemptNo"]) for d in placed)
    assert max(per_attempt.values()) == 1
    per_number = Counter(d["phoneNumber"] for d in placed)
    assert max(per_number.values()) <= RETRIES["maxRetries"] + 1
    assert_never_two_live_calls_per_number(dials)
    # The rough parts were really exercised.
    assert any(d["duplicateCallback"] for d in placed)
    assert any(d["outOfOrder"] and d["reportedStatus"] for d in placed)
    assert any(d["step"] in ("sync_error", "rate_limited") for d in dials)

    calls = {c["id"]: c for c in await api.calls(campaign["id"])}
    carrier_said = {
        (d["callId"], d["attemptNo"]): d for d in placed if d["reportedStatus"] is not None
    }
    for call in calls.values():
        assert call["status"] in ("COMPLETED", "PERMANENTLY_FAILED"), call
        dialled = [a for a in call["attempts"] if a["outcome"] not in ("NOT_PLACED", "REJECTED")]
        # Every carrier call is one attempt that knows its sid, and the other way round.
        reached = [a for a in dialled if a["externalCallId"]]
        assert len(reached) == per_number[call["phoneNumber"]], call
        for attempt in reached:
            said = carrier_said.get((call["id"], attempt["attemptNumber"]))
            expected = said["reportedStatus"] if said else "TIMED_OUT"
            # Whatever order and however often the callbacks came, the outcome is the carrier's.
            assert attempt["outcome"] == expected, (call, said)
            assert attempt["externalCallId"].startswith("CA")
        # An attempt without a sid was started by the killed worker, whose request may or may
        # not have left: it is never sent again, the watchdog ends it, and it counts as a dial.
        assert all(a["outcome"] == "TIMED_OUT" for a in dialled if not a["externalCallId"]), call
        if call["status"] == "PERMANENTLY_FAILED" and call["phoneNumber"] not in invalid:
            assert len(dialled) == RETRIES["maxRetries"] + 1
    for number in invalid:
        [call] = [c for c in calls.values() if c["phoneNumber"] == number]
        assert call["status"] == "PERMANENTLY_FAILED"
        assert "21211" in call["failureReason"], call
        assert [a["outcome"] for a in call["attempts"]] == ["REJECTED"]


async def test_a_single_call_shows_its_progress_and_who_answered(
    api: ApiClient, mock: MockClient
) -> None:
    await mock.configure(delayMinMs=1500, delayMaxMs=1500)
    [number] = fresh_numbers(1)
    created = await api.request("POST", "/api/v1/calls", json={"phoneNumber": number})
    assert created.status == 201, created.body
    seen: list[str] = []

    async def completed() -> dict[str, Any] | None:
        call = await api.call(created.body["id"])
        if not seen or seen[-1] != call["status"]:
            seen.append(call["status"])
        return call if call["status"] == "COMPLETED" else None

    call = await wait_until(completed, timeout=30, interval=0.05, message="the call completed")
    assert "IN_PROGRESS" in seen, seen
    [attempt] = call["attempts"]
    assert attempt["externalCallId"] == call["externalCallId"]
    assert attempt["externalCallId"].startswith("CA")
    # Single calls do not ask for machine detection, so the carrier says nothing of it.
    assert attempt["answeredBy"] is None
    assert attempt["sipResponseCode"] == 200
    assert call["callDurationSeconds"] == attempt["durationSeconds"] is not None


async def test_a_503_storm_opens_the_breaker_and_burns_no_attempt(
    api: ApiClient, mock: MockClient, twilio_stack: Stack, http: aiohttp.ClientSession
) -> None:
    await mock.configure(delayMinMs=100, delayMaxMs=200)
    numbers = fresh_numbers(80)
    campaign = await api.create_campaign(
        name="storm", phoneNumbers=numbers, concurrencyLimit=7, retryConfig=RETRIES
    )
    await api.action(campaign["id"], "start")

    async def some_completed() -> bool:
        return bool((await api.campaign(campaign["id"]))["metrics"]["completedCalls"] >= 10)

    await wait_until(some_completed, timeout=60, interval=0.1, message="10 calls completed")
    await mock.configure(delayMinMs=100, delayMaxMs=200, syncErrorRate=1.0)

    # The workers holding the campaign's jobs open their breakers (jobs may all sit on one).
    async def opened() -> bool:
        return "open" in await breaker_states(twilio_stack, http)

    await wait_until(opened, timeout=30, interval=0.1, message="a breaker open")
    # While the breakers are open, the carrier hears only their occasional trial calls.
    requests_before = (await mock.stats())["requests"]
    window_started = time.monotonic()

    # An observation window: what reaches the carrier while the storm lasts.
    async def storm_lasted() -> bool:
        return time.monotonic() - window_started > 3

    await wait_until(storm_lasted, timeout=10, interval=0.1, message="3 s of storm")
    during_storm = (await mock.stats())["requests"] - requests_before
    # About a trial per worker per reset timeout (1 s), so 6-8 in 3 s, with room for a
    # late one; without the breakers the seven lines would have asked hundreds of times.
    assert during_storm <= 2 * 5, during_storm
    stalled = await api.campaign(campaign["id"])
    assert stalled["status"] == "IN_PROGRESS"

    await mock.configure(delayMinMs=100, delayMaxMs=200)
    done = await finished(api, campaign["id"], timeout=120)

    assert done["status"] == "COMPLETED"
    assert done["metrics"]["completedCalls"] == 80
    assert done["metrics"]["permanentlyFailedCalls"] == 0
    calls = await api.calls(campaign["id"])
    refused: list[dict[str, Any]] = []
    for call in calls:
        # No retry was spent on the storm: each number reached the carrier exactly once.
        assert call["retryCount"] == 0, call
        dialled = [a for a in call["attempts"] if a["outcome"] != "NOT_PLACED"]
        assert [a["outcome"] for a in dialled] == ["COMPLETED"], call
        refused += [a for a in call["attempts"] if a["outcome"] == "NOT_PLACED"]
    assert refused, "the storm refused no attempt"
    placed = Counter(
        d["phoneNumber"] for d in await mock.calls(campaignId=campaign["id"]) if d["placed"]
    )
    assert set(placed) == set(numbers) and set(placed.values()) == {1}
    assert set(await breaker_states(twilio_stack, http)) == {"closed"}


async def test_machines_are_detected_and_hung_up_on_through_the_twilio_api(
    api: ApiClient, mock: MockClient
) -> None:
    numbers = fresh_numbers(4)
    machines, people = numbers[:2], numbers[2:]
    # A machine's message would last a minute: only a hang-up (POST Calls/{sid}.json with
    # Status=completed) ends these calls in time.
    await mock.configure(
        delayMinMs=100,
        delayMaxMs=200,
        machineMessageMs=60_000,
        scenarios={**{n: ["machine"] for n in machines}, **{n: ["completed"] for n in people}},
    )
    campaign = await api.create_campaign(
        name="twilio machines",
        phoneNumbers=numbers,
        concurrencyLimit=4,
        retryConfig=RETRIES,
        answeringMachine={"detect": True, "onMachine": "HANG_UP"},
    )
    await api.action(campaign["id"], "start")
    await finished(api, campaign["id"], timeout=45)
    calls = {c["phoneNumber"]: c for c in await api.calls(campaign["id"])}
    dials = {d["phoneNumber"]: d for d in await mock.calls(campaignId=campaign["id"])}
    for number in machines:
        assert (calls[number]["status"], calls[number]["failureReason"]) == (
            "PERMANENTLY_FAILED",
            "MACHINE",
        )
        assert calls[number]["attempts"][0]["answeredBy"] == "machine"
        assert dials[number]["hungUp"] and dials[number]["machineDetection"]
    for number in people:
        assert (calls[number]["status"], calls[number]["answeredBy"]) == ("COMPLETED", "human")
        assert not dials[number]["hungUp"]
