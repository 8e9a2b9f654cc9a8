"""What no consumer could handle. A result is applied once more (it is the carrier's truth);
everything else is kept in `dead_letters` for operators. No call waits on a dead letter: the
database state machine (watchdog, job stocking) has already made sure of that."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import asyncpg
import structlog
from aio_pika.abc import AbstractIncomingMessage

from shared.amqp import settle
from shared.domain.attempts import AttemptRef
from shared.domain.endings import ProviderReport
from shared.messages import CallResultReported, DialCall, InvalidMessage, parse_message
from shared.repositories.dead_letters import keep_dead_letter
from shared.repositories.endings import apply_provider_report

log = structlog.get_logger()

FIRST_PAUSE_S = 0.5
LONGEST_PAUSE_S = 10.0


def _death(incoming: AbstractIncomingMessage) -> tuple[str, str]:
    deaths: Any = (incoming.headers or {}).get("x-death") or []
    if deaths and isinstance(deaths, list | tuple):
        first = deaths[0]
        return str(first.get("queue", "?")), str(first.get("reason", "?"))
    return "?", "?"


class DeadLetterKeeper:
    """Consumes the dead-letter queue. While a dead letter cannot be kept (the database is
    away), it goes back to the queue only after a pause that grows with each failure in a row,
    so an outage costs a few redeliveries, not a hot loop of them."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        clock: Callable[[], datetime],
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._sleep = sleep
        self._failures_in_a_row = 0

    async def __call__(self, incoming: AbstractIncomingMessage) -> None:
        queue, reason = _death(incoming)
        try:
            message = parse_message(incoming.body)
        except InvalidMessage:
            message = None
        if isinstance(message, DialCall) and reason == "expired":
            # A dial request nobody waited for any more: the worker already treats it as in
            # doubt, and the carrier would drop it anyway. Nothing to keep.
            log.info("expired dial request dropped", call_id=str(message.call_id))
            await settle(incoming.ack())
            return
        try:
            if isinstance(message, CallResultReported) and await self._reapply(message):
                log.info("dead-lettered result applied on second try", queue=queue)
            else:
                async with self._pool.acquire() as conn:
                    await keep_dead_letter(
                        conn,
                        queue,
                        incoming.type,
                        reason,
                        json.loads(json.dumps(dict(incoming.headers or {}), default=str)),
                        incoming.body.decode("utf-8", errors="replace"),
                    )
                log.warning("message dead-lettered", queue=queue, reason=reason, type=incoming.type)
        except Exception as exc:
            self._failures_in_a_row += 1
            pause = min(FIRST_PAUSE_S * 2 ** (self._failures_in_a_row - 1), LONGEST_PAUSE_S)
            log.error(
                "could not keep a dead letter; it goes back to the queue",
                error=repr(exc),
                retry_in_s=round(pause, 2),
            )
            await self._sleep(pause)
            await settle(incoming.nack(requeue=True))
            return
        self._failures_in_a_row = 0
        await settle(incoming.ack())

    async def _reapply(self, message: CallResultReported) -> bool:
        ref = (
            AttemptRef(message.call_id, message.attempt_no)
            if message.call_id is not None and message.attempt_no is not None
            else None
        )
        report = ProviderReport(
            message.external_call_id,
            message.status,
            ref,
            message.duration_seconds,
            message.failure_reason,
        )
        async with self._pool.acquire() as conn:
            effect = await apply_provider_report(conn, report, self._clock())
        return effect is not None
