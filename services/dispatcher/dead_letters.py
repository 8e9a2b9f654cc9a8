"""What no consumer could handle. A result is applied once more (it is the carrier's truth);
everything else is kept in `dead_letters` for operators. No call waits on a dead letter: the
database state machine (watchdog, job stocking) has already made sure of that."""

from __future__ import annotations

import json
from typing import Any

import structlog
from aio_pika.abc import AbstractIncomingMessage

from services.dispatcher.bootstrap import Deps
from shared.messages import CallResultReported, InvalidMessage, parse_message
from shared.repositories.attempts import AttemptRef
from shared.results import ProviderReport, apply_provider_report

log = structlog.get_logger()


def _death(incoming: AbstractIncomingMessage) -> tuple[str, str]:
    deaths: Any = (incoming.headers or {}).get("x-death") or []
    if deaths and isinstance(deaths, list | tuple):
        first = deaths[0]
        return str(first.get("queue", "?")), str(first.get("reason", "?"))
    return "?", "?"


async def handle_dead_letter(incoming: AbstractIncomingMessage, deps: Deps) -> None:
    queue, reason = _death(incoming)
    try:
        message = parse_message(incoming.body)
    except InvalidMessage:
        message = None
    try:
        if isinstance(message, CallResultReported) and await _reapply(message, deps):
            log.info("dead-lettered result applied on second try", queue=queue)
        else:
            async with deps.pool.acquire() as conn:
                await conn.execute(
                    "INSERT INTO dead_letters (queue, message_type, reason, headers, body)"
                    " VALUES ($1, $2, $3, $4, $5)",
                    queue,
                    incoming.type,
                    reason,
                    json.loads(json.dumps(dict(incoming.headers or {}), default=str)),
                    incoming.body.decode("utf-8", errors="replace"),
                )
            log.warning("message dead-lettered", queue=queue, reason=reason, type=incoming.type)
    except Exception as exc:
        log.error("could not keep a dead letter; it stays queued", error=repr(exc))
        await incoming.nack(requeue=True)
        return
    await incoming.ack()


async def _reapply(message: CallResultReported, deps: Deps) -> bool:
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
    async with deps.pool.acquire() as conn:
        effect = await apply_provider_report(conn, report, deps.clock())
    return effect is not None
