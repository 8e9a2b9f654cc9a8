"""`python -m services.worker`: run a worker until SIGTERM, starting over when the broker drops."""

from __future__ import annotations

import asyncio
import signal
from contextlib import suppress

import structlog
import uvloop

from services.worker.app import run_session
from services.worker.bootstrap import bootstrap
from shared.logging import configure_logging
from shared.settings import Settings

log = structlog.get_logger()


async def serve(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    pause = 0.5
    while not stop.is_set():
        try:
            async with bootstrap(settings) as deps:
                pause = 0.5
                await run_session(deps, stop)
        except Exception as exc:
            log.error("worker session failed; starting over", error=repr(exc), exc_info=exc)
        if not stop.is_set():
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
            pause = min(pause * 2, 10.0)
    log.info("worker stopped")


def main() -> None:
    settings = Settings()
    configure_logging("worker", settings.log_level, settings.log_format)
    uvloop.run(serve(settings))


if __name__ == "__main__":
    main()
