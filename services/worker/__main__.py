"""`python -m services.worker`: run a worker until SIGTERM, starting over when the broker drops."""

from __future__ import annotations

import asyncio

import structlog

from services.worker.app import run_session
from services.worker.bootstrap import bootstrap
from services.worker.metrics import WorkerMetrics
from services.worker.telephony.base import ProviderConfigError
from services.worker.telephony.providers import check_provider
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

    async def session(stop: asyncio.Event) -> None:
        async with bootstrap(settings, metrics=metrics) as deps:
            await run_session(deps, stop)

    await run_sessions("worker", session, stop_event())


def main() -> None:
    run_service("worker", serve)


if __name__ == "__main__":
    main()
