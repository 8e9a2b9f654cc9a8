"""A request aiohttp cannot even parse is the client's fault: one warning line, no traceback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import web

from shared.logging import ClientErrorsAsWarnings

pytestmark = pytest.mark.asyncio(loop_scope="session")


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def hello(_: web.Request) -> web.Response:
    return web.Response(text="ok")


@pytest_asyncio.fixture(loop_scope="session")
async def server() -> AsyncIterator[tuple[int, Records]]:
    records = Records()
    logger = logging.getLogger("aiohttp.server")
    logger.addHandler(records)
    log_filter = ClientErrorsAsWarnings()
    logger.addFilter(log_filter)
    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield port, records
    finally:
        await runner.cleanup()
        logger.removeHandler(records)
        logger.removeFilter(log_filter)


async def raw_request(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(200), timeout=5)
    finally:
        writer.close()
        await writer.wait_closed()


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20_000 + b"\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
    ],
    ids=["long request line", "long header", "malformed header"],
)
async def test_unparseable_requests_are_one_warning_line(
    server: tuple[int, Records], request_bytes: bytes
) -> None:
    port, records = server
    records.records.clear()
    answer = await raw_request(port, request_bytes)
    assert answer.split(b" ")[1].startswith(b"4"), answer
    assert records.records, "the refusal should still be logged"
    for record in records.records:
        assert record.levelno == logging.WARNING, record.getMessage()
        assert record.exc_info is None
        assert "\n" not in record.getMessage()
