"""The provider's resilience: backoff, breaker, and never retrying a dial of unknown fate."""

from __future__ import annotations

import asyncio
import gc
import time
from uuid import uuid4

import pytest

from services.worker.telephony.base import DialRequest
from services.worker.telephony.resilience import CircuitOpen, DialAbandoned, Dialer
from shared.domain.retry_policy import RetryConfig
from shared.errors import ProviderOutcomeUnknown, ProviderRejected, ProviderUnavailable

RETRY = RetryConfig(
    max_retries=3,
    sync_initial_backoff_ms=20,
    sync_backoff_multiplier=2.0,
    callback_retry_delay_ms=0,
    callback_timeout_ms=1000,
)


class ScriptedProvider:
    """A provider that answers from a script: an exception to raise, or a call id."""

    name = "scripted"

    def __init__(self, *script: Exception | str) -> None:
        self.script = list(script)
        self.requests: list[tuple[float, DialRequest]] = []

    async def place_call(self, request: DialRequest) -> str:
        self.requests.append((time.monotonic(), request))
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(step, Exception):
            raise step
        return step


def request() -> DialRequest:
    return DialRequest(uuid4(), 1, uuid4(), "+14155550100")


def dialer(provider: ScriptedProvider, fail_max: int = 10) -> Dialer:
    return Dialer(provider, max_tries=4, fail_max=fail_max, reset_timeout_ms=60_000)


async def test_a_retry_is_not_made_once_the_attempt_has_ended() -> None:
    provider = ScriptedProvider(ProviderUnavailable("503"), "call-1")
    asked = []

    async def ended_meanwhile() -> bool:
        asked.append(True)
        return False

    with pytest.raises(DialAbandoned):
        await dialer(provider).place_call(request(), RETRY, ended_meanwhile)
    assert asked == [True]
    assert len(provider.requests) == 1, "nothing may be sent for an attempt that has ended"


async def test_a_retry_is_made_while_the_attempt_is_open() -> None:
    provider = ScriptedProvider(ProviderUnavailable("503"), "call-1")

    async def open_still() -> bool:
        return True

    assert await dialer(provider).place_call(request(), RETRY, open_still) == "call-1"
    assert len(provider.requests) == 2


async def test_unavailable_provider_is_retried_with_growing_pauses() -> None:
    provider = ScriptedProvider(ProviderUnavailable("503"), ProviderUnavailable("503"), "call-1")
    assert await dialer(provider).place_call(request(), RETRY) == "call-1"
    times = [t for t, _ in provider.requests]
    assert len(times) == 3
    assert times[1] - times[0] >= 0.019
    assert times[2] - times[1] >= 0.039
    # Every try of one attempt carries the same idempotency key.
    assert len({r.idempotency_key for _, r in provider.requests}) == 1


@pytest.mark.parametrize("max_tries", [1, 4])
async def test_gives_up_after_max_tries(max_tries: int) -> None:
    provider = ScriptedProvider(ProviderUnavailable("503"))
    giving_up = Dialer(provider, max_tries=max_tries, fail_max=10, reset_timeout_ms=60_000)
    with pytest.raises(ProviderUnavailable):
        await giving_up.place_call(request(), RETRY)
    assert len(provider.requests) == max_tries


async def test_a_dial_of_unknown_fate_is_never_retried() -> None:
    provider = ScriptedProvider(ProviderOutcomeUnknown("timeout"), "call-1")
    with pytest.raises(ProviderOutcomeUnknown):
        await dialer(provider).place_call(request(), RETRY)
    assert len(provider.requests) == 1


async def test_rejections_are_not_retried_and_do_not_open_the_breaker() -> None:
    provider = ScriptedProvider(ProviderRejected("invalid number"))
    guarded = dialer(provider, fail_max=2)
    for _ in range(5):
        with pytest.raises(ProviderRejected):
            await guarded.place_call(request(), RETRY)
    assert len(provider.requests) == 5
    assert guarded.breaker_state == "CLOSED"


async def test_breaker_opens_and_then_refuses_without_calling_the_provider() -> None:
    provider = ScriptedProvider(ProviderUnavailable("503"))
    guarded = dialer(provider, fail_max=3)
    with pytest.raises(ProviderUnavailable):
        await guarded.place_call(request(), RETRY)
    assert guarded.breaker_state == "OPEN"
    assert guarded.seconds_until_retry() > 50
    calls_before = len(provider.requests)
    with pytest.raises(ProviderUnavailable):
        await guarded.place_call(request(), RETRY)
    assert len(provider.requests) == calls_before


async def test_the_call_that_opens_the_breaker_is_not_retried() -> None:
    provider = ScriptedProvider(ProviderUnavailable("503"))
    breaking = Dialer(provider, max_tries=4, fail_max=2, reset_timeout_ms=60_000)
    with pytest.raises(CircuitOpen):
        await breaking.place_call(request(), RETRY)
    # Two tries trip the breaker; the third is refused by it without reaching the provider.
    assert len(provider.requests) == 2


async def test_admission_waits_while_open_then_lets_one_trial_in_at_a_time() -> None:
    provider = ScriptedProvider(ProviderUnavailable("503"), "call-1")
    gated = Dialer(provider, max_tries=1, fail_max=1, reset_timeout_ms=200)
    with pytest.raises(CircuitOpen):
        await gated.place_call(request(), RETRY)
    inside = 0
    most_inside = 0
    entered: list[float] = []

    async def dial() -> None:
        nonlocal inside, most_inside
        async with gated.admission():
            entered.append(time.monotonic())
            inside += 1
            most_inside = max(most_inside, inside)
            await asyncio.sleep(0.02)
            inside -= 1

    opened = time.monotonic()
    await asyncio.gather(*(dial() for _ in range(5)))
    assert min(entered) - opened >= 0.15  # nobody while the breaker was open
    assert most_inside == 1  # half-open: one at a time (no call here closes it)


async def test_a_carriers_retry_after_is_waited_when_longer_than_the_backoff() -> None:
    provider = ScriptedProvider(ProviderUnavailable("429", retry_after_s=0.25), "call-1")
    assert await dialer(provider).place_call(request(), RETRY) == "call-1"
    first, second = (t for t, _ in provider.requests)
    assert second - first >= 0.25  # the backoff alone would be 20 ms


async def test_a_dial_placed_first_time_leaves_no_garbage_cycles() -> None:
    # Cycles wait for the garbage collector; one retrier per call made it a fifth of a busy
    # worker's CPU.
    guarded = dialer(ScriptedProvider("call-1"))
    await guarded.place_call(request(), RETRY)
    gc.collect()
    gc.disable()
    try:
        for _ in range(20):
            await guarded.place_call(request(), RETRY)
        assert gc.collect() == 0
    finally:
        gc.enable()
