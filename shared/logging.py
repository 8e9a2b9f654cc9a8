"""structlog set-up, called once by each service's entry point."""

from __future__ import annotations

import logging
import sys

import structlog
from aiohttp.http_exceptions import HttpProcessingError


class ClientErrorsAsWarnings(logging.Filter):
    """aiohttp's server logs a request it cannot parse (an oversized request line or header, a
    malformed one) as an error with a traceback. That is the client's fault, answered 400 or
    431: keep it as one warning line saying what was wrong."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and 400 <= (exc.code or 0) < 500:
            record.msg = "bad request refused: %s (%s)"
            record.args = (exc.message.splitlines()[0] if exc.message else "", exc.code)
            record.exc_info = None
            record.exc_text = None
            record.levelno = logging.WARNING
            record.levelname = "WARNING"
        return True


def configure_logging(service: str, level: str = "INFO", fmt: str = "auto") -> None:
    """Log one JSON line per event (coloured text on a terminal), each tagged with `service`."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )

    def add_service(
        _: object, __: str, event: structlog.typing.EventDict
    ) -> structlog.typing.EventDict:
        event.setdefault("service", service)
        return event

    shared_processors: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        add_service,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared_processors,
            structlog.processors.dict_tracebacks if use_json else structlog.dev.set_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.clear_contextvars()
    # Libraries log through the standard library; route them into the same stream and format.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                renderer,
            ],
            foreign_pre_chain=[*shared_processors, structlog.stdlib.add_logger_name],
        )
    )
    server = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, ClientErrorsAsWarnings) for f in server.filters):
        server.addFilter(ClientErrorsAsWarnings())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING if level.upper() != "DEBUG" else logging.DEBUG)
