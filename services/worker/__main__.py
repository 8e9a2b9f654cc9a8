"""`python -m services.worker`: run a worker until SIGTERM, starting over when the broker drops."""

from __future__ import annotations

import asyncio

from services.worker.app import run_session
from services.worker.bootstrap import bootstrap
from services.worker.metrics import WorkerMetrics
from shared.runtime import run_service, run_sessions, stop_event
from shared.settings import Settings


async def serve(settings: Settings) -> None:
    metrics = WorkerMetrics.create()

    async def session(stop: asyncio.Event) -> None:
        async with bootstrap(settings, metrics=metrics) as deps:
            await run_session(deps, stop)

    await run_sessions("worker", session, stop_event())


def main() -> None:
    run_service("worker", serve)


if __name__ == "__main__":
    main()
