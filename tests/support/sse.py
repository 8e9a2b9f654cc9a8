"""A server-sent events client for tests: reads `id:`, `event:` and `data:` fields the way
a browser's EventSource does (one event per blank line; comments ignored)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass(frozen=True)
class Sent:
    id: str
    type: str
    body: dict[str, Any]


async def events(response: aiohttp.ClientResponse) -> AsyncIterator[Sent]:
    """The events of an open text/event-stream response, as they arrive."""
    fields: dict[str, str] = {}
    async for raw in response.content:
        line = raw.decode().rstrip("\r\n")
        if not line:
            if "data" in fields:
                yield Sent(
                    fields.get("id", ""), fields.get("event", "message"), json.loads(fields["data"])
                )
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


async def collect_until(response: aiohttp.ClientResponse, done: Any, timeout: float) -> list[Sent]:
    """Events until `done(events so far)` is true; a TimeoutError after `timeout` s."""
    got: list[Sent] = []

    async def read() -> None:
        async for sent in events(response):
            got.append(sent)
            if done(got):
                return

    await asyncio.wait_for(read(), timeout)
    return got
