"""Delivering a callback as a carrier does: a POST, tried again with backoff while the
receiver is unreachable or answers one of `retried_statuses`, given up after six tries."""

from __future__ import annotations

from typing import Any

import aiohttp
import structlog
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

log = structlog.get_logger()


class CallbackNotTaken(Exception):
    pass


async def post_until_taken(
    session: aiohttp.ClientSession,
    url: str,
    *,
    data: Any,
    headers: dict[str, str],
    retried_statuses: frozenset[int],
) -> None:
    async for attempt in AsyncRetrying(
        stop=stop_after_attempt(6),
        wait=wait_exponential(multiplier=0.2, max=5),
        retry=retry_if_exception_type((CallbackNotTaken, aiohttp.ClientError, TimeoutError)),
        reraise=True,
    ):
        with attempt:
            timeout = aiohttp.ClientTimeout(total=10)
            async with session.post(url, data=data, headers=headers, timeout=timeout) as answer:
                if answer.status in retried_statuses:
                    raise CallbackNotTaken(f"{url} answered {answer.status}")
                if answer.status >= 400:
                    log.error("callback refused", url=url, status=answer.status)
