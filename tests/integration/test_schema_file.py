"""docs/schema.sql is the schema the migrations make, as `make schema` writes it."""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest

from shared.db.schema_dump import SCHEMA_FILE, dump_schema
from tests.support.infra import Infra

pytestmark = pytest.mark.asyncio(loop_scope="session")

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump is not installed")
async def test_committed_schema_matches_the_migrations(infra: Infra) -> None:
    fresh = await dump_schema(infra.base_database_url)
    committed = (ROOT / SCHEMA_FILE).read_text()
    if fresh != committed:
        diff = "".join(
            difflib.unified_diff(
                committed.splitlines(keepends=True),
                fresh.splitlines(keepends=True),
                "docs/schema.sql (committed)",
                "after the migrations",
                n=1,
            )
        )
        pytest.fail(
            f"docs/schema.sql is not the schema the migrations make: run `make schema`"
            f" and commit it.\n{diff[:4000]}"
        )
