"""Health: the database and the broker, for orchestrators and people."""

from __future__ import annotations

from aiohttp import web

from services.api.http.context import BROKER, POOL
from shared.db.pool import check_database
from shared.health import health_response, run_checks

routes = web.RouteTableDef()


async def _health(request: web.Request) -> web.Response:
    pool = request.app[POOL]
    broker = request.app[BROKER]

    async def database() -> None:
        await check_database(pool)

    async def amqp() -> None:
        if not broker.connected:
            raise ConnectionError("broker connection closed")

    healthy, components = await run_checks({"database": database, "broker": amqp})
    return health_response(healthy, components)


routes.get("/health")(_health)
routes.get("/actuator/health")(_health)
