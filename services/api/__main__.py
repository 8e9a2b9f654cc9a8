"""`python -m services.api`: serve the HTTP API until SIGTERM.

`python -m services.api keys ...` manages API keys instead (see services.api.keys_cli).
"""

from __future__ import annotations

import sys

import structlog
from aiohttp import web

from services.api import keys_cli
from services.api.app import create_app
from shared.runtime import run_service, stop_event
from shared.settings import Settings

log = structlog.get_logger()


async def serve(settings: Settings) -> None:
    stop = stop_event()
    runner = web.AppRunner(create_app(settings), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.host, settings.api_port, shutdown_timeout=10).start()
        log.info("api ready", url=f"http://{settings.host}:{settings.api_port}")
        await stop.wait()
    finally:
        await runner.cleanup()
    log.info("api stopped")


def main() -> None:
    if sys.argv[1:2] == ["keys"]:
        sys.exit(keys_cli.main(sys.argv[2:]))
    # asyncio's own loop: under 64 concurrent clients uvloop served about as many requests
    # but with a p99 of 700-900 ms against 15 ms (make bench; docs/benchmarks.md).
    run_service("api", serve, fast_loop=False)


if __name__ == "__main__":
    main()
