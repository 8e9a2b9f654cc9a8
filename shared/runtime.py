"""What every service's entry point does: stop on signals, and start over when a session fails."""

from __future__ import annotations

import asyncio
import gc
import signal
from collections.abc import Awaitable, Callable
from contextlib import suppress

import structlog
import uvloop

from shared.logging import configure_logging
from shared.settings import Settings

log = structlog.get_logger()

#: Tracked allocations (net of deallocations) between young-generation collections; Python's
#: default is 700. A message or a batch of rows briefly holds a few hundred objects, so at 700
#: the collector ran every few calls and promoted objects that were about to die, which then
#: cost the older, slower collections: a worker collected about 1,000 times in 15,000 calls.
#: At 10,000 it collects about 15 times; the extra memory is a few megabytes at most.
YOUNG_COLLECTION_THRESHOLD = 10_000


def tune_garbage_collector() -> None:
    """Collect rarely, and never again look at what importing the service created."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, older, oldest)


def stop_event() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT (Ctrl-C)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def run_sessions(
    name: str, session: Callable[[asyncio.Event], Awaitable[None]], stop: asyncio.Event
) -> None:
    """Run `session` until `stop` is set, starting it again (with a growing pause, at most 10 s)
    whenever it ends or fails: a lost broker or database connection ends a session."""
    pause = 0.5
    while not stop.is_set():
        started = asyncio.get_running_loop().time()
        try:
            await session(stop)
        except Exception as exc:
            log.error(f"{name} session failed; starting over", error=repr(exc), exc_info=exc)
        if stop.is_set():
            break
        if asyncio.get_running_loop().time() - started > 60:
            pause = 0.5
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), pause)
        pause = min(pause * 2, 10.0)
    log.info(f"{name} stopped")


def run_service(
    name: str, serve: Callable[[Settings], Awaitable[None]], *, fast_loop: bool = True
) -> None:
    """Read the settings, configure logging, and run `serve` until it returns: on uvloop when
    `fast_loop` (cheaper socket writes for message-heavy services), else on asyncio's loop."""
    settings = Settings()
    configure_logging(name, settings.log_level, settings.log_format)
    tune_garbage_collector()
    if fast_loop:
        uvloop.run(serve(settings))  # type: ignore[arg-type]
    else:
        asyncio.run(serve(settings))  # type: ignore[arg-type]
