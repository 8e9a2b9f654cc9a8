"""Answering machines with the four processes running, counted at the mock carrier
(docs/answering-machines.md): COMPLETE completes, RETRY dials again then fails with MACHINE,
HANG_UP hangs up at once and never retries; a person is never hung up on."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from tests.e2e.helpers import finished
from tests.support.api_client import ApiClient, MockClient
from tests.support.numbers import fresh_numbers

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

#: Retries come quickly, and a lost result would end by its timeout well within the test.
RETRIES = {"maxRetries": 3, "callbackRetryDelayMs": 100, "callbackTimeoutMs": 30_000}


def dials_by_number(dials: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    by_number: dict[str, list[dict[str, Any]]] = defaultdict(list)
    # A redelivered dial request the carrier recognised places nothing: not a dial.
    for dial in sorted((d for d in dials if not d["duplicate"]), key=lambda d: d["requestNo"]):
        by_number[dial["phoneNumber"]].append(dial)
    return by_number


async def run(
    api: ApiClient, name: str, numbers: list[str], machine: dict[str, Any], **extra: Any
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    campaign = await api.create_campaign(
        name=name,
        phoneNumbers=numbers,
        concurrencyLimit=len(numbers),
        answeringMachine=machine,
        retryConfig={**RETRIES, **extra.pop("retry", {})},
        **extra,
    )
    await api.action(campaign["id"], "start")
    done = await finished(api, campaign["id"], timeout=60)
    calls = {c["phoneNumber"]: c for c in await api.calls(campaign["id"])}
    return done, calls


async def test_complete_and_retry(api: ApiClient, mock: MockClient) -> None:
    numbers = fresh_numbers(9)
    machines, people, undetected, retried = numbers[:3], numbers[3:5], numbers[5:7], numbers[7:]
    await mock.configure(
        delayMinMs=50,
        delayMaxMs=150,
        machineMessageMs=300,
        scenarios={
            **{n: ["machine"] for n in machines + undetected + retried},
            **{n: ["completed"] for n in people},
        },
    )

    _, calls = await run(
        api, "machines complete", machines + people, {"detect": True, "onMachine": "COMPLETE"}
    )
    for number in machines:
        call = calls[number]
        assert (call["status"], call["answeredBy"], call["failureReason"]) == (
            "COMPLETED",
            "machine",
            None,
        ), call
        [attempt] = call["attempts"]
        assert (attempt["outcome"], attempt["answeredBy"]) == ("MACHINE", "machine")
    for number in people:
        assert (calls[number]["status"], calls[number]["answeredBy"]) == ("COMPLETED", "human")

    # Without detection the carrier says nothing of who answered: answered calls, as before.
    _, calls = await run(api, "machines unasked", undetected, {"detect": False})
    for number in undetected:
        assert (calls[number]["status"], calls[number]["answeredBy"]) == ("COMPLETED", None)
        assert calls[number]["attempts"][0]["outcome"] == "COMPLETED"

    done, calls = await run(
        api,
        "machines retried",
        retried,
        {"detect": True, "onMachine": "RETRY"},
        retry={"outcomes": {"MACHINE": {"maxRetries": 1, "delayMs": 200}}},
    )
    assert done["metrics"]["permanentlyFailedCalls"] == len(retried)
    for number in retried:
        call = calls[number]
        assert (call["status"], call["failureReason"]) == ("PERMANENTLY_FAILED", "MACHINE"), call
        assert [a["outcome"] for a in call["attempts"]] == ["MACHINE", "MACHINE"]

    dials = dials_by_number(await mock.calls())
    for number in machines + people + undetected:
        assert len(dials[number]) == 1, dials[number]
    for number in machines + undetected:
        assert not dials[number][0]["hungUp"]
    assert [d["machineDetection"] for n in undetected for d in dials[n]] == [False, False]
    # MACHINE's own maxRetries (1), not the general one (3): two dials each.
    for number in retried:
        assert len(dials[number]) == 2, dials[number]


async def test_hang_up_hangs_up_at_once_and_never_retries(api: ApiClient, mock: MockClient) -> None:
    numbers = fresh_numbers(6)
    machines, people = numbers[:4], numbers[4:]
    # A machine's message would last a minute: the campaign finishes well before only
    # because each machine is hung up on.
    await mock.configure(
        delayMinMs=50,
        delayMaxMs=150,
        machineMessageMs=60_000,
        scenarios={
            **{n: ["machine"] for n in machines},
            **{n: ["completed"] for n in people},
        },
    )
    done, calls = await run(
        api, "machines hung up", numbers, {"detect": True, "onMachine": "HANG_UP"}
    )
    assert done["metrics"]["permanentlyFailedCalls"] == len(machines)
    assert done["metrics"]["completedCalls"] == len(people)
    for number in machines:
        call = calls[number]
        assert (call["status"], call["failureReason"], call["answeredBy"]) == (
            "PERMANENTLY_FAILED",
            "MACHINE",
            "machine",
        ), call
        assert call["nextRetryAt"] is None
        assert [a["outcome"] for a in call["attempts"]] == ["MACHINE"]

    dials = dials_by_number(await mock.calls(campaignId=done["id"]))
    for number in machines:
        [dial] = dials[number]
        assert dial["hungUp"] and dial["answeredBy"] == "machine_start", dial
    for number in people:
        [dial] = dials[number]
        assert not dial["hungUp"] and dial["answeredBy"] == "human", dial
