"""The api's app factory: middlewares, routes, and the pool and broker as cleanup contexts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import structlog
from aiohttp import web

from services.api.http.access import KEYS, KeyChecker
from services.api.http.console import DEFAULT_UI_DIR, console_routes
from services.api.http.context import (
    BROKER,
    BULK_LOADS,
    METRICS,
    METRICS_TTL_S,
    POLICY,
    POOL,
    RECENT_METRICS,
    SETTINGS,
    STREAMS,
    VALIDATION,
    WEBHOOK_SECRETS,
)
from services.api.http.edge import edge_middleware
from services.api.http.event_streams import StreamSlots
from services.api.http.rate_limit import Limits, limits_for
from services.api.http.recent import Recent
from services.api.http.views import ROUTES
from services.api.metrics import ApiMetrics
from services.api.operations.broker import Broker
from services.api.operations.validation_pool import ValidationPool
from services.api.webhooks.deliverer import Deliverer
from services.api.webhooks.secrets import SecretBox
from shared.calling_policy import service_policy
from shared.db.pool import create_pool
from shared.prometheus import metrics_route
from shared.settings import Settings

log = structlog.get_logger()

CleanupContext = Callable[[web.Application], AsyncIterator[None]]


@dataclass(frozen=True)
class Deps:
    """Collaborators a caller (a test) made itself; the app uses them and leaves closing them
    to that caller. Each one left out is made from the settings and closed with the app."""

    pool: asyncpg.Pool | None = None
    broker: Broker | None = None


def _database(given: asyncpg.Pool | None) -> CleanupContext:
    async def database(app: web.Application) -> AsyncIterator[None]:
        if given is not None:
            app[POOL] = given
            yield
            return
        pool = await create_pool(app[SETTINGS])
        app[POOL] = pool
        yield
        await pool.close()

    return database


def _broker(given: Broker | None) -> CleanupContext:
    async def broker(app: web.Application) -> AsyncIterator[None]:
        if given is not None:
            app[BROKER] = given
            yield
            return
        connected = await Broker.connect(app[SETTINGS].amqp_url, app[SETTINGS].queue_type)
        app[BROKER] = connected
        yield
        await connected.close()

    return broker


async def _validation(app: web.Application) -> AsyncIterator[None]:
    pool = ValidationPool(app[SETTINGS].validation_processes)
    app[VALIDATION] = pool
    yield
    pool.close()


def _rate_limits(limiter: Limits) -> CleanupContext:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        yield
        await limiter.close()

    return ctx


async def _access(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    app[KEYS] = KeyChecker(
        app[POOL], settings.static_api_keys, ttl_s=settings.api_key_cache_ms / 1000
    )
    yield


async def _webhooks(app: web.Application) -> AsyncIterator[None]:
    """The webhook deliverer of this replica, running for the app's whole life. Without a
    secret key no endpoint can be made and nothing is sent, but it still renders events'
    bodies, which the event stream sends."""
    settings = app[SETTINGS]
    box = SecretBox(settings.webhook_secret_key)
    app[WEBHOOK_SECRETS] = box
    if not box.available:
        log.info("webhooks off: VCS_WEBHOOK_SECRET_KEY is not set (the event stream works)")
    task = asyncio.create_task(Deliverer(app[POOL], settings, box=box).run())
    task.add_done_callback(_report_end)
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _report_end(task: asyncio.Task[None]) -> None:
    """A deliverer that stops other than by the app's end is an error worth a log line."""
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("webhook deliverer stopped", error=repr(error), exc_info=error)


async def _end_streams(app: web.Application) -> None:
    app[STREAMS].closing.set()


def create_app(settings: Settings, deps: Deps | None = None) -> web.Application:
    """The api as an aiohttp application; its pool and broker are opened on startup."""
    deps = deps or Deps()
    limiter = limits_for(
        settings.redis_url, settings.rate_limit_per_second, settings.rate_limit_burst
    )
    metrics = ApiMetrics.create()
    app = web.Application(
        middlewares=[edge_middleware(limiter, settings.max_request_bytes, metrics)],
        client_max_size=settings.max_request_bytes,
    )
    app[SETTINGS] = settings
    app[POLICY] = service_policy(settings)
    app[METRICS] = metrics
    app[BULK_LOADS] = asyncio.Semaphore(max(1, settings.db_pool_max_size // 2))
    app[RECENT_METRICS] = Recent(METRICS_TTL_S)
    app[STREAMS] = StreamSlots(settings.event_stream_max_clients)
    app.on_shutdown.append(_end_streams)
    app.cleanup_ctx.extend(
        [
            _database(deps.pool),
            _broker(deps.broker),
            _access,
            _validation,
            _rate_limits(limiter),
            _webhooks,
        ]
    )
    app.add_routes(ROUTES)
    app.add_routes([metrics_route(metrics.registry)])
    app.add_routes(console_routes(Path(settings.ui_dir) if settings.ui_dir else DEFAULT_UI_DIR))
    return app
