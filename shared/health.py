"""A tiny HTTP server for the health and metrics of services that serve nothing else over
HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry

from shared.prometheus import metrics_route

#: A check returns details to show, or raises when the dependency is unusable.
HealthCheck = Callable[[], Awaitable[Mapping[str, Any] | None]]


async def run_checks(checks: Mapping[str, HealthCheck]) -> tuple[bool, dict[str, Any]]:
    """(all healthy, a report per component), every check bounded by a 3 s timeout."""

    async def one(check: HealthCheck) -> dict[str, Any]:
        try:
            async with asyncio.timeout(3):
                details = await check()
        except Exception as exc:
            return {"status": "DOWN", "error": str(exc) or type(exc).__name__}
        return {"status": "UP", **(details or {})}

    results = await asyncio.gather(*(one(check) for check in checks.values()))
    components = dict(zip(checks, results, strict=True))
    healthy = all(c["status"] == "UP" for c in components.values())
    return healthy, components


def health_response(healthy: bool, components: dict[str, Any]) -> web.Response:
    body = {"status": "UP" if healthy else "DOWN", "components": components}
    return web.json_response(body, status=200 if healthy else 503)


async def start_health_server(
    host: str, port: int, checks: Mapping[str, HealthCheck], registry: CollectorRegistry
) -> web.AppRunner:
    """Serve GET /health and GET /metrics on host:port until the runner is cleaned up."""

    async def health(_: web.Request) -> web.Response:
        healthy, components = await run_checks(checks)
        return health_response(healthy, components)

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_routes([metrics_route(registry)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


class SessionChecks(Mapping[str, HealthCheck]):
    """The health checks of the session running now, for a health server that outlives
    sessions: while none runs (the broker or the database is away and the service is
    starting over) the one check there is fails, so /health answers 503 rather than
    refusing connections, which an orchestrator would take for a dead process."""

    def __init__(self) -> None:
        self._checks: dict[str, HealthCheck] = {"session": _no_session}

    def use(self, checks: Mapping[str, HealthCheck]) -> None:
        self._checks = dict(checks)

    def clear(self) -> None:
        self._checks = {"session": _no_session}

    def __getitem__(self, name: str) -> HealthCheck:
        return self._checks[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._checks)

    def __len__(self) -> int:
        return len(self._checks)


async def _no_session() -> None:
    raise ConnectionError("no session: connecting to the broker and the database again")
