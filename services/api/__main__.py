"""`python -m services.api`: serve the HTTP API until SIGTERM.

`python -m services.api keys ...` manages API keys instead (see services.api.keys_cli).
"""

from __future__ import annotations

import sys

import structlog
from aiohttp import web

from services.api import keys_cli
from services.api.app import create_app
from shared.logging import configure_logging
from shared.settings import Settings

log = structlog.get_logger()


def main() -> None:
    if sys.argv[1:2] == ["keys"]:
        sys.exit(keys_cli.main(sys.argv[2:]))
    settings = Settings()
    configure_logging("api", settings.log_level, settings.log_format)
    log.info("api starting", url=f"http://{settings.host}:{settings.api_port}")
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.api_port,
        access_log=None,
        print=None,
        shutdown_timeout=10,
    )


if __name__ == "__main__":
    main()
