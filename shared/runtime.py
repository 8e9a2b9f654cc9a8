"""What every service's entry point does: stop on signals, and start over when a session fails."""

from __future__ import annotations

import asyncio
import gc
import random
import signal
from collections.abc import Awaitable, Callable

import structlog
import uvloop

from shared.amqp import BROKER_UNAVAILABLE
from shared.db.pool import DATABASE_UNAVAILABLE
from shared.logging import configure_logging
from shared.settings import Settings
from shared.waits import wait_until_set

log = structlog.get_logger()

#: The longest pause before a failed session starts again. A broker or database outage ends
#: sessions; once it is over, dialling should resume within a few seconds, so the pause grows
#: only to this (with jitter, so that many workers do not reconnect in step).
LONGEST_RESTART_PAUSE_S = 2.0

#: Tracked allocations (net of deallocations) between young-generation collections; Python's
#: default is 700. A message or a batch of rows briefly holds a few hundred objects, so at 700
#: the collector ran every few calls and promoted objects that were about to die, which then
#: cost the older, slower collections: a worker collected about 1,000 times in 15,000 calls.
#: At 10,000 it collects about 15 times; the extra memory is a few megabytes at most.
YOUNG_COLLECTION_THRESHOLD = 10_000


class ExplainedFailure(Exception):
    """A session failure its message explains in full: logged without a traceback."""


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
    """Run `session` until `stop` is set, starting it again (after a pause that grows to
    LONGEST_RESTART_PAUSE_S) whenever it ends or fails: a lost broker or database connection
    ends a session."""
    pause = 0.25
    while not stop.is_set():
        started = asyncio.get_running_loop().time()
        try:
            await session(stop)
        except Exception as exc:
            # An outage or an explained failure says enough in one line; anything else is a bug.
            expected = isinstance(
                exc, (*BROKER_UNAVAILABLE, *DATABASE_UNAVAILABLE, ExplainedFailure)
            )
            log.error(
                f"{name} session failed; starting over",
                error=repr(exc),
                exc_info=None if expected else exc,
            )
        if stop.is_set():
            break
        if asyncio.get_running_loop().time() - started > 60:
            pause = 0.25
        await wait_until_set(stop, pause * random.uniform(0.8, 1.2))
        pause = min(pause * 2, LONGEST_RESTART_PAUSE_S)
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
