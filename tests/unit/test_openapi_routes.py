"""The OpenAPI document describes exactly the routes the api serves, both ways."""

from __future__ import annotations

from pathlib import Path

from services.api.app import create_app
from services.api.http.openapi import openapi_document
from shared.settings import Settings

#: Served but deliberately not in the document: the document itself and its page for people,
#: Prometheus' scrape endpoint, and the web console's page and static files.
UNDOCUMENTED = {
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/docs"),
    ("GET", "/metrics"),
    ("GET", "/"),
    ("GET", "/assets"),
}

METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}


def served_routes(ui_dir: Path) -> set[tuple[str, str]]:
    """(method, path template) of every route; HEAD is left out, aiohttp adds it to each GET."""
    app = create_app(Settings(ui_dir=str(ui_dir)))
    routes = set()
    for route in app.router.routes():
        assert route.resource is not None
        if route.method != "HEAD":
            routes.add((route.method, route.resource.canonical))
    return routes


def documented_routes() -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, operations in openapi_document()["paths"].items()
        for method in operations
        if method in METHODS
    }


def test_every_route_is_documented_and_every_documented_route_is_served(tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()  # the console's static route exists only when it is built
    served = served_routes(tmp_path)
    documented = documented_routes()
    assert UNDOCUMENTED - served == set(), "listed as undocumented but no longer served"
    assert served - UNDOCUMENTED - documented == set(), "served but not in the document"
    assert documented - served == set(), "in the document but not served"
    assert documented & UNDOCUMENTED == set()


def test_every_operation_has_a_unique_readable_operation_id() -> None:
    ids = [
        operation["operationId"]
        for operations in openapi_document()["paths"].values()
        for method, operation in operations.items()
        if method in METHODS
    ]
    assert len(ids) == len(set(ids))
    for operation_id in ids:
        assert operation_id.isidentifier() and operation_id[0].islower(), operation_id
        assert "_" not in operation_id, operation_id
