"""Call ids are made by the database in the UUIDv7 layout, so bulk loads append to the index."""

from __future__ import annotations

import time
import uuid

import asyncpg
import pytest

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_call_ids_are_time_ordered_uuids(db: asyncpg.Pool) -> None:
    before_ms = int(time.time() * 1000)
    ids: list[uuid.UUID] = [
        r["id"]
        for r in await db.fetch("SELECT time_ordered_uuid() AS id FROM generate_series(1, 500)")
    ]
    after_ms = int(time.time() * 1000)
    assert len(set(ids)) == 500
    for made in ids:
        assert made.version == 7 and made.variant == uuid.RFC_4122
        assert before_ms - 1000 <= made.int >> 80 <= after_ms + 1000  # 48 bits of epoch ms
    default = await db.fetchval(
        "SELECT column_default FROM information_schema.columns"
        " WHERE table_name = 'calls' AND column_name = 'id'"
    )
    assert default == "time_ordered_uuid()"
