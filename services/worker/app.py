"""Runs one worker session: consumers, background loops and what its health check reports."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import Any

import aiormq
import structlog

from services.worker.bootstrap import Deps
from services.worker.handlers import HANDLERS, IGNORED
from shared.amqp import Consumer
from shared.db.pool import check_database
from shared.health import SessionChecks
from shared.prometheus import BREAKER_STATE_VALUES
from shared.repositories.attempts import closed_among
from shared.repositories.dispatching import work_in_hand
from shared.repositories.workers import WorkerBeat, forget_worker, record_heartbeat
from shared.runtime import ExplainedFailure
from shared.topology import CALL_RESULTS_QUEUE, declare_worker_queues

log = structlog.get_logger()


async def run_session(deps: Deps, stop: asyncio.Event, health: SessionChecks) -> None:
    """Work until `stop` is set or the broker connection drops; `health` reports on this
    session while it runs."""
    lost = asyncio.Event()
    deps.connection.close_callbacks.add(lambda *_: lost.set())
    consumer: Consumer[Deps] = Consumer(HANDLERS, deps, ignored=IGNORED)

    own = await deps.connection.channel(publisher_confirms=False)
    await own.set_qos(prefetch_count=100)
    try:
        queues = await declare_worker_queues(own, deps.worker_id, deps.settings.queue_type)
    except aiormq.exceptions.ChannelLockedResource as exc:
        # Its exclusive queues are named after its id, so a live worker of the same id holds
        # them: this one waits as its standby, and says why once per attempt.
        raise ExplainedFailure(
            f"another worker is running with id {deps.worker_id!r}; each needs its own "
            "(VCS_WORKER_ID, by default host name and process id)"
        ) from exc
    await queues.events.consume(consumer)
    await queues.signals.consume(consumer)

    results_channel = await deps.connection.channel(publisher_confirms=False)
    await results_channel.set_qos(prefetch_count=64)
    await (await results_channel.get_queue(queues.results.name, ensure=False)).consume(consumer)
    shared_results = await results_channel.get_queue(CALL_RESULTS_QUEUE, ensure=False)
    await shared_results.consume(consumer)

    settings = deps.settings
    tasks = [
        asyncio.create_task(
            deps.subscriptions.run(consumer, settings.campaign_refresh_interval_ms / 1000)
        ),
        asyncio.create_task(_release_ended_attempts(deps)),
        asyncio.create_task(_beat(deps)),
    ]
    deps.metrics.calls_in_flight.set_function(lambda: len(deps.held))
    deps.metrics.leases_held.set_function(lambda: sum(deps.subscriptions.leases_held().values()))
    deps.metrics.breaker_state.set_function(lambda: BREAKER_STATE_VALUES[_breaker_state(deps)])
    health.use(_health_checks(deps))
    async with deps.pool.acquire() as conn:
        taken_over = await work_in_hand(conn, deps.worker_id)
    # Attempts this id held before (a restart under the same id) are adopted when their jobs
    # come back, or ended by the callback timeout.
    log.info(
        "worker ready",
        worker_id=deps.worker_id,
        health_port=settings.worker_health_port,
        **taken_over,
    )
    try:
        stopping = asyncio.create_task(stop.wait())
        dropped = asyncio.create_task(_first_set(lost, deps.channels.lost))
        await asyncio.wait([stopping, dropped, *tasks], return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        dropped.cancel()
        for task in tasks:
            if task.done() and task.exception():
                raise task.exception()  # type: ignore[misc]
        if (lost.is_set() or deps.channels.lost.is_set()) and not stop.is_set():
            log.error(
                "worker session ended: broker connection lost; held leases return to their queues"
            )
        elif stop.is_set():
            log.info("worker session ended: stop requested; finishing held calls")
    finally:
        deps.draining.set()
        for task in tasks:
            task.cancel()
        with suppress(Exception):
            # Bounded: after the broker closed the connection a retirement may get no answer;
            # the connection's close, next, ends every channel anyway.
            async with asyncio.timeout(SUBSCRIPTIONS_CLOSE_S):
                await deps.subscriptions.close()
        with suppress(Exception):
            async with deps.pool.acquire() as conn:
                await forget_worker(conn, deps.worker_id)
        health.clear()


#: How long a session's end waits for its campaign subscriptions to be retired.
SUBSCRIPTIONS_CLOSE_S = 10.0


async def _first_set(*events: asyncio.Event) -> None:
    waiters = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def _release_ended_attempts(deps: Deps) -> None:
    """Signals are hints: check the database for held attempts that ended without one."""
    interval = deps.settings.held_attempt_check_interval_ms / 1000
    while True:
        await asyncio.sleep(interval)
        held = deps.held.refs()
        if not held:
            continue
        try:
            async with deps.pool.acquire() as conn:
                ended = await closed_among(conn, held)
        except Exception as exc:
            log.warning("could not check held attempts", error=repr(exc))
            continue
        for ref in ended:
            deps.held.release(ref)


async def _beat(deps: Deps) -> None:
    """Tell the database, every few seconds, that this worker is alive and what it holds."""
    interval = deps.settings.worker_heartbeat_interval_ms / 1000
    while True:
        beat = WorkerBeat(
            deps.worker_id,
            deps.clock(),
            sum(deps.subscriptions.leases_held().values()),
            _breaker_state(deps),
        )
        try:
            async with deps.pool.acquire() as conn:
                await record_heartbeat(conn, beat)
        except Exception as exc:
            log.warning("could not record the heartbeat", error=repr(exc))
        await asyncio.sleep(interval)


def _breaker_state(deps: Deps) -> str:
    """closed, half-open or open."""
    return deps.dialer.breaker_state.lower().replace("_", "-")


def _health_checks(deps: Deps) -> dict[str, Any]:
    async def database() -> None:
        await check_database(deps.pool)

    async def broker() -> dict[str, Any]:
        if deps.connection.is_closed:
            raise ConnectionError("broker connection closed")
        return {"attemptsHeld": len(deps.held)}

    async def provider() -> dict[str, Any]:
        return {"name": deps.dialer.provider.name, "circuitBreaker": deps.dialer.breaker_state}

    return {"database": database, "broker": broker, "telephony": provider}
