"""Retries with backoff and a circuit breaker around a provider: the only place that has them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

import structlog
from aiobreaker import (
    CircuitBreaker,
    CircuitBreakerError,
    CircuitBreakerListener,
    CircuitBreakerState,
)
from aiobreaker.state import CircuitBreakerBaseState
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    retry_if_not_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)
from tenacity.wait import wait_base

from services.worker.telephony.base import DialRequest, TelephonyProvider
from shared.domain.retry_policy import RetryConfig
from shared.errors import ProviderOutcomeUnknown, ProviderRejected, ProviderUnavailable

log = structlog.get_logger()


class CircuitOpen(ProviderUnavailable):
    """The breaker refused the call: not placed, and not worth trying again until it allows."""


class DialAbandoned(Exception):
    """The attempt ended while its dial was being tried again (its deadline passed during the
    backoff): nothing was placed, and nothing may be now."""


#: Asked before each try after the first: may the attempt still be dialled? (It also pushes
#: the attempt's deadline past the try.)
StillOpen = Callable[[], Awaitable[bool]]


#: The longest a carrier's Retry-After holds one attempt's next try; past it the breaker is
#: the better judge.
MAX_RETRY_AFTER_S = 30.0


def _at_least_retry_after(backoff: wait_base) -> Callable[[RetryCallState], float]:
    """The backoff, or the carrier's Retry-After (capped) when it asks for longer."""

    def wait(state: RetryCallState) -> float:
        pause = float(backoff(state))
        error = state.outcome.exception() if state.outcome else None
        asked = getattr(error, "extra", {}).get("retry_after_s")
        if isinstance(asked, int | float) and asked > pause:
            return min(float(asked), MAX_RETRY_AFTER_S)
        return pause

    return wait


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    log.info(
        "dial not placed; trying again",
        tries=state.attempt_number,
        reason=getattr(error, "detail", repr(error)),
    )


class _OpeningTime(CircuitBreakerListener):  # type: ignore[misc]  # aiobreaker is untyped
    """When the breaker last opened, on the monotonic clock, told by aiobreaker's public
    listener interface (its own record of it is private, and in naive UTC)."""

    def __init__(self) -> None:
        self.opened_at: float | None = None

    def state_change(
        self, breaker: CircuitBreaker, old: CircuitBreakerBaseState, new: CircuitBreakerBaseState
    ) -> None:
        # Called after aiobreaker stamps its own opening time, so ours is never the earlier:
        # when this says the breaker may let a trial through, aiobreaker agrees.
        if new.state == CircuitBreakerState.OPEN:
            self.opened_at = time.monotonic()


class Dialer:
    """Places calls through `provider`.

    A provider error that means "not placed" (ProviderUnavailable) is retried within the same
    attempt after `syncInitialBackoffMs * syncBackoffMultiplier**n`, with jitter, up to
    `max_tries` tries. A request whose fate is unknown is never retried: the call may be
    ringing. Rejections do not count against the breaker; everything else does.

    Callers take `admission()` before they start an attempt, so that no attempt is started
    while the breaker is open, and only one (the trial) when it is due to test the provider.
    """

    def __init__(
        self, provider: TelephonyProvider, *, max_tries: int, fail_max: int, reset_timeout_ms: int
    ) -> None:
        self.provider = provider
        self._max_tries = max_tries
        self._reset_timeout_s = reset_timeout_ms / 1000
        self.breaker = CircuitBreaker(
            fail_max=fail_max,
            timeout_duration=timedelta(milliseconds=reset_timeout_ms),
            exclude=[ProviderRejected],
            name=f"telephony-{provider.name}",
        )
        self._opening = _OpeningTime()
        self.breaker.add_listener(self._opening)
        self._trial = asyncio.Lock()

    @property
    def breaker_state(self) -> str:
        return str(self.breaker.current_state.name)

    def seconds_until_retry(self) -> float:
        """How long the open breaker still refuses calls; 0 when it lets calls through."""
        if self.breaker.current_state != CircuitBreakerState.OPEN:
            return 0.0
        opened_at = self._opening.opened_at
        if opened_at is None:
            return 0.0
        remaining = opened_at + self._reset_timeout_s - time.monotonic()
        return max(remaining, 0.0)

    @asynccontextmanager
    async def admission(self) -> AsyncIterator[None]:
        """Wait while the breaker is open; once it is due to test the provider, let one caller
        in at a time (aiobreaker itself lets every concurrent caller through half-open)."""
        while True:
            pause = self.seconds_until_retry()
            if pause > 0:
                await asyncio.sleep(pause)
                continue
            if self.breaker.current_state == CircuitBreakerState.CLOSED:
                trial = False
                break
            await self._trial.acquire()
            if (
                self.breaker.current_state == CircuitBreakerState.CLOSED
                or self.seconds_until_retry() > 0
            ):
                # The trial before ours settled it: go round again.
                self._trial.release()
                continue
            trial = True
            break
        try:
            yield
        finally:
            if trial:
                self._trial.release()

    async def place_call(
        self, request: DialRequest, retry: RetryConfig, still_open: StillOpen | None = None
    ) -> str:
        # The first try goes without a retrier: tenacity's retrier is a knot of reference
        # cycles that only the garbage collector frees, and building one for every call made
        # the collector a fifth of a busy worker's CPU. Almost every dial succeeds first time.
        try:
            return await self._through_breaker(request)
        except CircuitOpen:
            raise
        except ProviderUnavailable as exc:
            first_failure = exc
        retrying = self._retrying(retry)
        async for attempt in retrying:
            with attempt:
                if attempt.retry_state.attempt_number == 1:
                    # Replayed, so that tenacity counts it and waits the first backoff.
                    raise first_failure
                if still_open is not None and not await still_open():
                    raise DialAbandoned("the attempt ended while its dial was being retried")
                return await self._through_breaker(request)
        raise AssertionError("tenacity either returns or raises")

    def _retrying(self, retry: RetryConfig) -> AsyncRetrying:
        initial_s = retry.sync_initial_backoff_ms / 1000
        return AsyncRetrying(
            stop=stop_after_attempt(self._max_tries),
            wait=_at_least_retry_after(
                wait_exponential(multiplier=initial_s, exp_base=retry.sync_backoff_multiplier)
                + wait_random(0, initial_s * 0.1)
            ),
            retry=retry_if_exception_type(ProviderUnavailable)
            & retry_if_not_exception_type(CircuitOpen),
            before_sleep=_log_retry,
            reraise=True,
        )

    async def _through_breaker(self, request: DialRequest) -> str:
        try:
            external_id: str = await self.breaker.call_async(self.provider.place_call, request)
            return external_id
        except CircuitBreakerError as exc:
            # The call that trips the breaker raises CircuitBreakerError with the real cause.
            if isinstance(exc.__cause__, ProviderOutcomeUnknown):
                raise exc.__cause__ from None
            log.warning("provider circuit open", provider=self.provider.name)
            raise CircuitOpen("the provider's circuit breaker is open") from exc
