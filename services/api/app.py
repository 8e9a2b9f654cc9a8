"""The api's app factory: middlewares, routes, and the pool and broker as cleanup contexts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aio_pika
from aiohttp import web

from services.api.access import KEYS, KeyChecker
from services.api.console import DEFAULT_UI_DIR, console_routes
from services.api.context import (
    BROKER,
    BULK_LOADS,
    METRICS,
    METRICS_TTL_S,
    POOL,
    PUBLISHER,
    RECENT_METRICS,
    SETTINGS,
    VALIDATION,
)
from services.api.edge import edge_middleware
from services.api.metrics import ApiMetrics
from services.api.rate_limit import RateLimiter
from services.api.recent import Recent
from services.api.validation_pool import ValidationPool
from services.api.views import ROUTES
from shared.amqp import RECONNECT_INTERVAL_S, Publisher, connection_name
from shared.db.pool import create_pool
from shared.prometheus import metrics_route
from shared.settings import Settings


async def _database(app: web.Application) -> AsyncIterator[None]:
    pool = await create_pool(app[SETTINGS])
    app[POOL] = pool
    yield
    await pool.close()


async def _broker(app: web.Application) -> AsyncIterator[None]:
    # Robust: the api only publishes, and a publish during a reconnect fails fast (events
    # are hints; the dispatcher's tick catches up).
    connection = await aio_pika.connect_robust(
        app[SETTINGS].amqp_url,
        reconnect_interval=RECONNECT_INTERVAL_S,
        client_properties=connection_name("api"),
    )
    app[BROKER] = connection
    channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
    app[PUBLISHER] = Publisher(channel)
    yield
    await connection.close()


async def _validation(app: web.Application) -> AsyncIterator[None]:
    pool = ValidationPool(app[SETTINGS].validation_processes)
    app[VALIDATION] = pool
    yield
    pool.close()


async def _access(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    app[KEYS] = KeyChecker(
        app[POOL], settings.static_api_keys, ttl_s=settings.api_key_cache_ms / 1000
    )
    yield


def create_app(settings: Settings) -> web.Application:
    limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
    metrics = ApiMetrics.create()
    app = web.Application(
        middlewares=[edge_middleware(limiter, settings.max_request_bytes, metrics)],
        client_max_size=settings.max_request_bytes,
    )
    app[SETTINGS] = settings
    app[METRICS] = metrics
    app[BULK_LOADS] = asyncio.Semaphore(max(1, settings.db_pool_max_size // 2))
    app[RECENT_METRICS] = Recent(METRICS_TTL_S)
    app.cleanup_ctx.extend([_database, _broker, _access, _validation])
    app.add_routes(ROUTES)
    app.add_routes([metrics_route(metrics.registry)])
    app.add_routes(console_routes(Path(settings.ui_dir) if settings.ui_dir else DEFAULT_UI_DIR))
    return app
