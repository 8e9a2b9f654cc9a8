"""Results delivered as a carrier delivers them: a signed JSON POST to a callback URL, tried
again while the receiver answers 404 (it may not know the call yet), 429, 5xx or nothing."""

from __future__ import annotations

import json

import aiohttp
import structlog
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from services.telephony_mock.carrier import Result
from shared.signatures import SIGNATURE_HEADER, sign

log = structlog.get_logger()

RETRIED_STATUSES = frozenset({404, 408, 429, 500, 502, 503, 504})


class CallbackNotTaken(Exception):
    pass


class HttpCallbacks:
    def __init__(self, session: aiohttp.ClientSession, secret: str | None) -> None:
        self._session = session
        self._secret = secret

    async def report(self, url: str, result: Result) -> None:
        record = result.record
        body = json.dumps(
            {
                "externalCallId": record.external_call_id,
                "status": result.status,
                "durationSeconds": result.duration_seconds,
                "failureReason": result.failure_reason,
            }
        ).encode()
        headers = {"Content-Type": "application/json"}
        if self._secret:
            headers[SIGNATURE_HEADER] = sign(self._secret, body)
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(6),
            wait=wait_exponential(multiplier=0.2, max=5),
            retry=retry_if_exception_type((CallbackNotTaken, aiohttp.ClientError, TimeoutError)),
            reraise=True,
        ):
            with attempt:
                await self._post(url, body, headers)

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        timeout = aiohttp.ClientTimeout(total=10)
        async with self._session.post(url, data=body, headers=headers, timeout=timeout) as response:
            if response.status in RETRIED_STATUSES:
                raise CallbackNotTaken(f"{url} answered {response.status}")
            if response.status >= 400:
                log.error("callback refused", url=url, status=response.status)
