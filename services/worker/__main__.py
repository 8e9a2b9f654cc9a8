"""`python -m services.worker`: run a worker until SIGTERM, starting over when the broker drops."""

from __future__ import annotations

import asyncio

import structlog

from services.worker.app import run_session
from services.worker.bootstrap import bootstrap
from services.worker.metrics import WorkerMetrics
from services.worker.telephony.base import ProviderConfigError
from services.worker.telephony.providers import check_provider
from shared.health import SessionChecks, start_health_server
from shared.runtime import run_service, run_sessions, stop_event
from shared.settings import Settings

log = structlog.get_logger()


async def serve(settings: Settings) -> None:
    try:
        check_provider(settings)
    except ProviderConfigError as exc:
        log.error("cannot start: the telephony provider is not configured", error=str(exc))
        raise SystemExit(2) from exc
    metrics = WorkerMetrics.create()
    # The health server outlives sessions: between them it answers 503, not silence.
    health = SessionChecks()
    server = await start_health_server(
        settings.host, settings.worker_health_port, health, metrics.registry
    )

    async def session(stop: asyncio.Event) -> None:
        async with bootstrap(settings, metrics=metrics) as deps:
            await run_session(deps, stop, health)

    try:
        await run_sessions("worker", session, stop_event())
    finally:
        await server.cleanup()


def main() -> None:
    run_service("worker", serve)


if __name__ == "__main__":
    main()
