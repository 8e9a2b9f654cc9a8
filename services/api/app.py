"""The api's app factory: middlewares, routes, and the pool and broker as cleanup contexts."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aio_pika
from aiohttp import web

from services.api.context import BROKER, POOL, PUBLISHER, SETTINGS
from services.api.problems import problem_middleware
from services.api.views import routes
from shared.amqp import Publisher
from shared.db.pool import create_pool
from shared.settings import Settings


async def _database(app: web.Application) -> AsyncIterator[None]:
    pool = await create_pool(app[SETTINGS])
    app[POOL] = pool
    yield
    await pool.close()


async def _broker(app: web.Application) -> AsyncIterator[None]:
    # Robust: the api only publishes, and a publish during a reconnect fails fast (events
    # are hints; the dispatcher's tick catches up).
    connection = await aio_pika.connect_robust(app[SETTINGS].amqp_url)
    app[BROKER] = connection
    channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
    app[PUBLISHER] = Publisher(channel)
    yield
    await connection.close()


def create_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[problem_middleware], client_max_size=20 * 1024**2)
    app[SETTINGS] = settings
    app.cleanup_ctx.extend([_database, _broker])
    app.add_routes(routes)
    return app
