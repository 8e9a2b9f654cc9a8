"""`python -m services.dispatcher`: one active dispatcher, standbys waiting on an advisory lock."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from services.dispatcher.app import run_leader
from services.dispatcher.bootstrap import Deps, bootstrap
from services.dispatcher.leadership import Leadership
from services.dispatcher.metrics import DispatcherMetrics
from shared.calling_policy import service_policy
from shared.db.pool import check_database
from shared.health import SessionChecks, start_health_server
from shared.runtime import run_service, run_sessions, stop_event
from shared.settings import Settings

log = structlog.get_logger()


async def serve(settings: Settings) -> None:
    policy = service_policy(settings)
    leadership = Leadership(settings.database_url, settings.leader_retry_interval_ms / 1000)
    metrics = DispatcherMetrics.create(settings.max_concurrent_calls)
    metrics.is_leader.set_function(lambda: 1 if leadership.is_leader else 0)
    # The health server outlives sessions: between them it answers 503, not silence.
    health = SessionChecks()
    server = await start_health_server(
        settings.host, settings.dispatcher_health_port, health, metrics.registry
    )

    async def session(stop: asyncio.Event) -> None:
        try:
            async with bootstrap(settings, metrics=metrics, policy=policy) as deps:
                await _run_session(deps, leadership, stop, health)
        finally:
            await leadership.release()

    try:
        await run_sessions("dispatcher", session, stop_event())
    finally:
        await server.cleanup()


async def _run_session(
    deps: Deps, leadership: Leadership, stop: asyncio.Event, health: SessionChecks
) -> None:
    lost_broker = asyncio.Event()
    deps.connection.close_callbacks.add(lambda *_: lost_broker.set())
    health.use(_checks(deps, leadership))
    try:
        # Stop being active when asked to, when the broker goes, or when the lock's
        # connection dies (another dispatcher may hold the lock by then).
        until = asyncio.Event()
        if not await leadership.acquire(stop):
            return
        watchers = [
            asyncio.create_task(_set_when(until, stop.wait())),
            asyncio.create_task(_set_when(until, lost_broker.wait())),
            asyncio.create_task(_set_when(until, leadership.watch())),
        ]
        try:
            await run_leader(deps, until)
        finally:
            for watcher in watchers:
                watcher.cancel()
    finally:
        health.clear()


async def _set_when(event: asyncio.Event, awaitable: Any) -> None:
    await awaitable
    event.set()


def _checks(deps: Deps, leadership: Leadership) -> dict[str, Any]:
    async def database() -> None:
        await check_database(deps.pool)

    async def broker() -> None:
        if deps.connection.is_closed:
            raise ConnectionError("broker connection closed")

    async def role() -> dict[str, Any]:
        return {"role": "active" if leadership.is_leader else "standby"}

    return {"database": database, "broker": broker, "dispatcher": role}


def main() -> None:
    run_service("dispatcher", serve)


if __name__ == "__main__":
    main()
