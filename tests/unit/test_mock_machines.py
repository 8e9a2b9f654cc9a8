"""The mock carrier's machines: what it reports with and without detection, and a hang-up
that ends the call before the message does."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from services.telephony_mock.behaviour import Behaviour, MockConfig
from services.telephony_mock.carrier import Accepted, Carrier, Result
from tests.support.waiting import wait_until

pytestmark = pytest.mark.asyncio

NUMBER = "+14155550100"


def carrier_with(reports: list[Result], message_ms: int) -> Carrier:
    config = MockConfig(
        delayMinMs=0,
        delayMaxMs=0,
        machineMessageMs=message_ms,
        scenarios={NUMBER: ["machine"], "+14155550101": ["completed"]},
    )

    async def report(result: Result) -> None:
        reports.append(result)

    return Carrier(Behaviour(config), report)


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    async def holds() -> bool:
        return condition()

    await wait_until(holds, timeout=seconds, interval=0.01, message="the carrier's reports")


async def test_with_detection_a_machine_is_said_at_once_then_on_the_result() -> None:
    reports: list[Result] = []
    carrier = carrier_with(reports, message_ms=0)
    carrier.dial(phone_number=NUMBER, idempotency_key="k1", machine_detection=True)
    await until(lambda: len(reports) == 2)
    progress, final = reports
    assert (progress.status, progress.answered_by) == ("IN_PROGRESS", "machine_start")
    assert (final.status, final.answered_by) == ("COMPLETED", "machine_end_beep")
    assert not final.record.hung_up
    await carrier.close()


async def test_without_detection_a_machine_is_an_answered_call_and_nobody_says_so() -> None:
    reports: list[Result] = []
    carrier = carrier_with(reports, message_ms=0)
    carrier.dial(phone_number=NUMBER, idempotency_key="k1")
    carrier.dial(phone_number="+14155550101", idempotency_key="k2")
    await until(lambda: len(reports) == 2)
    assert {(r.status, r.answered_by) for r in reports} == {("COMPLETED", None)}
    await carrier.close()


async def test_a_person_is_said_to_be_one_when_detection_was_asked() -> None:
    reports: list[Result] = []
    carrier = carrier_with(reports, message_ms=0)
    carrier.dial(phone_number="+14155550101", idempotency_key="k2", machine_detection=True)
    await until(lambda: len(reports) == 1)
    assert (reports[0].status, reports[0].answered_by) == ("COMPLETED", "human")
    await carrier.close()


async def test_a_hang_up_ends_the_machines_call_before_its_message_ends() -> None:
    reports: list[Result] = []
    carrier = carrier_with(reports, message_ms=60_000)
    placed = carrier.dial(phone_number=NUMBER, idempotency_key="k1", machine_detection=True)
    assert isinstance(placed, Accepted)
    await until(lambda: len(reports) == 1)
    assert carrier.live_now == 1
    assert carrier.hang_up(placed.external_call_id) is True
    await until(lambda: len(reports) == 2)
    final = reports[1]
    assert (final.status, final.answered_by) == ("COMPLETED", "machine_start")
    assert final.record.hung_up and carrier.live_now == 0
    assert carrier.stats()["hungUp"] == 1 and carrier.stats()["machines"] == 1
    # A call that has ended cannot be hung up again; nor can one that never was.
    assert carrier.hang_up(placed.external_call_id) is False
    assert carrier.hang_up("mock-unknown") is False
    await carrier.close()
