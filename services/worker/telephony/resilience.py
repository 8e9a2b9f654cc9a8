"""Retries with backoff and a circuit breaker around a provider: the only place that has them."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import structlog
from aiobreaker import CircuitBreaker, CircuitBreakerError, CircuitBreakerState
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from services.worker.telephony.base import DialRequest, TelephonyProvider
from shared.domain.retry_policy import RetryConfig
from shared.errors import ProviderOutcomeUnknown, ProviderRejected, ProviderUnavailable

log = structlog.get_logger()


class Dialer:
    """Places calls through `provider`.

    A provider error that means "not placed" (ProviderUnavailable) is retried within the same
    attempt after `syncInitialBackoffMs * syncBackoffMultiplier**n`, with jitter, up to
    `max_tries` tries. A request whose fate is unknown is never retried: the call may be
    ringing. Rejections do not count against the breaker; everything else does.
    """

    def __init__(
        self, provider: TelephonyProvider, *, max_tries: int, fail_max: int, reset_timeout_ms: int
    ) -> None:
        self.provider = provider
        self._max_tries = max_tries
        self.breaker = CircuitBreaker(
            fail_max=fail_max,
            timeout_duration=timedelta(milliseconds=reset_timeout_ms),
            exclude=[ProviderRejected],
            name=f"telephony-{provider.name}",
        )

    @property
    def breaker_state(self) -> str:
        return str(self.breaker.current_state.name)

    def seconds_until_retry(self) -> float:
        """How long the open breaker still refuses calls; 0 when it lets calls through."""
        if self.breaker.current_state != CircuitBreakerState.OPEN:
            return 0.0
        opened_at = self.breaker._state_storage.opened_at
        if opened_at is None:
            return 0.0
        # aiobreaker stamps `opened_at` with naive UTC.
        reopens = opened_at + self.breaker.timeout_duration
        remaining: float = (reopens - datetime.utcnow()).total_seconds()
        return max(remaining, 0.0)

    async def wait_until_available(self) -> None:
        """Hold on while the breaker is open, so that no attempt is spent on a dead provider."""
        pause = self.seconds_until_retry()
        if pause > 0:
            # After the pause the breaker lets trial calls through (half-open).
            await asyncio.sleep(pause)

    async def place_call(self, request: DialRequest, retry: RetryConfig) -> str:
        initial_s = retry.sync_initial_backoff_ms / 1000
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._max_tries),
            wait=wait_exponential(multiplier=initial_s, exp_base=retry.sync_backoff_multiplier)
            + wait_random(0, initial_s * 0.1),
            retry=retry_if_exception_type(ProviderUnavailable),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._through_breaker(request)
        raise AssertionError("tenacity either returns or raises")

    async def _through_breaker(self, request: DialRequest) -> str:
        try:
            external_id: str = await self.breaker.call_async(self.provider.place_call, request)
            return external_id
        except CircuitBreakerError as exc:
            # The call that trips the breaker raises CircuitBreakerError with the real cause.
            if isinstance(exc.__cause__, ProviderOutcomeUnknown):
                raise exc.__cause__ from None
            log.warning("provider circuit open", provider=self.provider.name)
            raise ProviderUnavailable("the provider's circuit breaker is open") from exc
