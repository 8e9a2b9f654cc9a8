"""The HTTP baseline: a bare aiohttp endpoint doing one asyncpg primary-key read.

`python -m bench.baseline_http <database-url> <port>` serves GET /calls/{id}.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

import asyncpg
from aiohttp import web

POOL: web.AppKey[asyncpg.Pool] = web.AppKey("pool", asyncpg.Pool)


def create_app(database_url: str) -> web.Application:
    async def pool(app: web.Application) -> AsyncIterator[None]:
        app[POOL] = await asyncpg.create_pool(database_url, min_size=10, max_size=10)
        yield
        await app[POOL].close()

    async def get_call(request: web.Request) -> web.Response:
        async with request.app[POOL].acquire() as conn:
            row = await conn.fetchrow(
                "SELECT id::text, phone_number, status FROM calls WHERE id = $1::uuid",
                request.match_info["id"],
            )
        return web.json_response(dict(row) if row else {})

    app = web.Application()
    app.cleanup_ctx.append(pool)
    app.router.add_get("/calls/{id}", get_call)
    return app


if __name__ == "__main__":
    web.run_app(create_app(sys.argv[1]), host="127.0.0.1", port=int(sys.argv[2]), print=None)
