"""Retry policy per outcome, counted at the mock carrier (docs/retries.md)."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import datetime
from typing import Any

import pytest

from tests.e2e.helpers import finished
from tests.support.api_client import ApiClient, MockClient
from tests.support.numbers import fresh_numbers
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

BUSY_DELAY_S = 2.0
NO_ANSWER_DELAY_S = 6.0
JITTER = 0.25
#: From the retry's due time to its dial request at the carrier: the dispatcher's tick, the
#: line lease, the claim and the dial message, on a loaded test machine.
PICK_UP_S = 2.5
#: The general delay: a retry that fell through to it would come far too late.
GENERAL_DELAY_MS = 30_000


def dials_by_number(dials: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    by_number: dict[str, list[dict[str, Any]]] = defaultdict(list)
    # A redelivered dial request the carrier recognised places nothing: not a dial.
    for dial in sorted((d for d in dials if not d["duplicate"]), key=lambda d: d["requestNo"]):
        by_number[dial["phoneNumber"]].append(dial)
    return by_number


def gaps(dials: list[dict[str, Any]]) -> list[float]:
    """Seconds from each call's end at the carrier to the next dial request of its number."""
    return [
        (
            datetime.fromisoformat(after["receivedAt"]) - datetime.fromisoformat(before["endedAt"])
        ).total_seconds()
        for before, after in itertools.pairwise(dials)
    ]


def within_jitter(gap: float, delay: float) -> bool:
    # The retry is due delay * (1 +- JITTER) after the result was applied, which is after the
    # carrier ended the call; it is dialled within PICK_UP_S of falling due.
    return delay * (1 - JITTER) <= gap <= delay * (1 + JITTER) + PICK_UP_S


async def test_each_outcome_is_retried_after_its_own_delay(
    api: ApiClient, mock: MockClient
) -> None:
    numbers = fresh_numbers(13)
    busy, always_busy, unanswered, rejected, lost = (
        numbers[:4],
        numbers[4:5],
        numbers[5:10],
        numbers[10:12],
        numbers[12:],
    )
    scenarios = {
        **{n: ["busy", "busy", "completed"] for n in busy},
        **{n: ["busy"] for n in always_busy},
        **{n: ["no_answer", "completed"] for n in unanswered},
        **{n: ["invalid"] for n in rejected},
        **{n: ["no_callback", "completed"] for n in lost},
    }
    await mock.configure(delayMinMs=50, delayMaxMs=150, scenarios=scenarios)
    campaign = await api.create_campaign(
        name="retry per outcome",
        phoneNumbers=numbers,
        concurrencyLimit=13,
        retryConfig={
            "maxRetries": 3,
            "callbackRetryDelayMs": GENERAL_DELAY_MS,
            "callbackTimeoutMs": 1000,
            "jitterRatio": JITTER,
            "outcomes": {
                "BUSY": {"delayMs": int(BUSY_DELAY_S * 1000), "maxRetries": 2},
                "NO_ANSWER": {"delayMs": int(NO_ANSWER_DELAY_S * 1000)},
                "NO_RESULT": {"retry": False},
            },
        },
    )
    await api.action(campaign["id"], "start")

    # While the unanswered numbers wait, each shows the retry time it was given: within the
    # jitter of NO_ANSWER's delay from the moment its attempt ended.
    waits: dict[str, float] = {}

    async def every_unanswered_number_waits() -> bool:
        for call in await api.calls(campaign["id"], status="FAILED"):
            number = call["phoneNumber"]
            if number in unanswered and number not in waits and call["nextRetryAt"]:
                ended = datetime.fromisoformat(call["attempts"][-1]["endedAt"])
                due = datetime.fromisoformat(call["nextRetryAt"])
                waits[number] = (due - ended).total_seconds()
        return set(waits) == set(unanswered)

    await wait_until(every_unanswered_number_waits, timeout=30, message="retries scheduled")
    low, high = NO_ANSWER_DELAY_S * (1 - JITTER), NO_ANSWER_DELAY_S * (1 + JITTER)
    assert all(low - 0.001 <= w <= high + 0.001 for w in waits.values()), waits
    assert len({round(w, 3) for w in waits.values()}) > 1, f"no jitter: {waits}"

    done = await finished(api, campaign["id"], timeout=90)
    assert done["metrics"]["completedCalls"] == len(busy) + len(unanswered)

    dials = dials_by_number(await mock.calls(campaignId=campaign["id"]))
    for number in busy:
        assert [d["step"] for d in dials[number]] == ["busy", "busy", "completed"]
        assert all(within_jitter(g, BUSY_DELAY_S) for g in gaps(dials[number])), (
            number,
            gaps(dials[number]),
        )
    # BUSY's own maxRetries (2), not the general one (3).
    [endless] = always_busy
    assert len(dials[endless]) == 3
    for number in unanswered:
        assert [d["step"] for d in dials[number]] == ["no_answer", "completed"]
        [gap] = gaps(dials[number])
        assert within_jitter(gap, NO_ANSWER_DELAY_S), (number, gap)
    # REJECTED is not retried by default, NO_RESULT not as configured: one dial request each.
    for number in rejected + lost:
        assert len(dials[number]) == 1, (number, dials[number])

    calls = {c["phoneNumber"]: c for c in await api.calls(campaign["id"])}
    for number in [*always_busy, *rejected, *lost]:
        assert calls[number]["status"] == "PERMANENTLY_FAILED", calls[number]
        assert calls[number]["nextRetryAt"] is None
    assert [a["outcome"] for a in calls[endless]["attempts"]] == ["BUSY"] * 3
    assert {calls[n]["attempts"][0]["outcome"] for n in rejected} == {"REJECTED"}
    assert {calls[n]["attempts"][0]["outcome"] for n in lost} == {"TIMED_OUT"}
