"""The api's layers stay apart: views reach neither the broker nor SQL, and operations know
nothing of HTTP."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

API = Path(__file__).resolve().parents[2] / "services" / "api"

#: What a view must not import: the broker's client libraries and our wrapper of them (the
#: operations layer's Broker publishes), and the repositories (operations run the SQL).
NOT_IN_VIEWS = ("aio_pika", "aiormq", "shared.amqp", "shared.repositories")
#: What an operation must not import: the web framework and the HTTP edge.
NOT_IN_OPERATIONS = ("aiohttp", "services.api.http")


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def offending(path: Path, forbidden: tuple[str, ...]) -> set[str]:
    return {
        name
        for name in imported_modules(path)
        for module in forbidden
        if name == module or name.startswith(module + ".")
    }


VIEWS = sorted((API / "http" / "views").glob("*.py"))
OPERATIONS = sorted((API / "operations").glob("*.py"))


@pytest.mark.parametrize("view", VIEWS, ids=lambda p: p.name)
def test_views_reach_the_broker_and_the_database_only_through_operations(view: Path) -> None:
    assert offending(view, NOT_IN_VIEWS) == set()


@pytest.mark.parametrize("module", OPERATIONS, ids=lambda p: p.name)
def test_operations_know_nothing_of_http(module: Path) -> None:
    assert offending(module, NOT_IN_OPERATIONS) == set()
