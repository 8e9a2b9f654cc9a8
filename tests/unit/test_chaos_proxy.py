"""The fault-injection proxy, over real sockets on 127.0.0.1, in front of an in-process echo."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import pytest_asyncio

from tests.support.chaos_proxy import ChaosProxy, OutageKind
from tests.support.waiting import wait_until

pytestmark = pytest.mark.asyncio(loop_scope="session")

#: What the echo upstream sends after the client's FIN, before closing its side.
TRAILER = b"<end of echo>"
#: How long a request that should get no answer is given.
SILENCE = 0.3
#: How long a prompt reaction is given, generously.
PROMPTLY = 5.0


class Upstream:
    """A TCP server on 127.0.0.1: echoes (then TRAILER after the FIN), or never reads."""

    def __init__(self, *, echo: bool = True) -> None:
        self.echo = echo
        self.resets = 0
        self.reset_seen = asyncio.Event()
        self._handlers: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self._stop = asyncio.Event()
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        # Ended by closing their sockets, not by cancelling them: Python 3.11 logs an error
        # for a cancelled connection handler.
        self._stop.set()
        for writer in self._handlers.values():
            writer.transport.abort()
        await asyncio.gather(*self._handlers)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers[task] = writer
        try:
            if not self.echo:
                await self._stop.wait()
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
            writer.write(TRAILER)
            await writer.drain()
        except ConnectionResetError:
            self.resets += 1
            self.reset_seen.set()
        except ConnectionError:
            pass
        finally:
            writer.transport.abort()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            del self._handlers[task]


class Clients:
    """Client connections made by a test, all aborted at its end."""

    def __init__(self) -> None:
        self._writers: list[asyncio.StreamWriter] = []

    async def connect(self, proxy: ChaosProxy) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(*proxy.address)
        self._writers.append(writer)
        return reader, writer

    async def close(self) -> None:
        for writer in self._writers:
            writer.transport.abort()
        for writer in self._writers:
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


@pytest_asyncio.fixture(loop_scope="session")
async def upstream() -> AsyncIterator[Upstream]:
    server = Upstream()
    await server.start()
    yield server
    await server.close()


@pytest_asyncio.fixture(loop_scope="session")
async def proxy(upstream: Upstream) -> AsyncIterator[ChaosProxy]:
    async with ChaosProxy("127.0.0.1", upstream.port) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="session")
async def clients() -> AsyncIterator[Clients]:
    made = Clients()
    yield made
    await made.close()


async def roundtrip(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes
) -> bytes:
    writer.write(data)
    await writer.drain()
    return await asyncio.wait_for(reader.readexactly(len(data)), PROMPTLY)


async def no_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Assert that a request gets no answer within SILENCE (the bytes stay unanswered)."""
    writer.write(b"ping")
    await writer.drain()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.readexactly(4), SILENCE)


async def test_five_megabytes_each_way_arrive_intact_and_a_half_close_passes(
    proxy: ChaosProxy, clients: Clients
) -> None:
    reader, writer = await clients.connect(proxy)
    payload = os.urandom(5 * 1024 * 1024)

    async def send() -> None:
        view = memoryview(payload)
        for start in range(0, len(payload), 100_000):
            writer.write(view[start : start + 100_000])
            await writer.drain()
        writer.write_eof()

    sending = asyncio.create_task(send())
    # The echo answers the FIN with the trailer after it, over the half-closed connection.
    received = await asyncio.wait_for(reader.read(), 30)
    await sending
    assert received == payload + TRAILER
    stats = proxy.stats
    assert (stats.accepted, stats.bytes_up, stats.bytes_down) == (
        1,
        len(payload),
        len(payload) + len(TRAILER),
    )
    assert stats.resets == 0


async def test_latency_delays_each_direction(proxy: ChaosProxy, clients: Clients) -> None:
    reader, writer = await clients.connect(proxy)
    assert await roundtrip(reader, writer, b"warm") == b"warm"
    proxy.latency_ms = 100
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await roundtrip(reader, writer, b"slow") == b"slow"
    assert loop.time() - started >= 0.2 - 0.001  # 100 ms on the way there, 100 ms back
    proxy.latency_ms = 0
    assert await roundtrip(reader, writer, b"fast") == b"fast"


async def test_bytes_stay_in_order_under_jitter_and_a_latency_change(
    upstream: Upstream, clients: Clients
) -> None:
    async with ChaosProxy("127.0.0.1", upstream.port, seed=7) as proxy:
        reader, writer = await clients.connect(proxy)
        proxy.latency_ms, proxy.jitter_ms = 5, 30
        pieces = [f"<{i}>".encode() for i in range(300)]
        for i, piece in enumerate(pieces):
            if i == 200:
                proxy.latency_ms = proxy.jitter_ms = 0  # later pieces must not overtake
            writer.write(piece)
            await writer.drain()
        expected = b"".join(pieces)
        assert await asyncio.wait_for(reader.readexactly(len(expected)), PROMPTLY) == expected


async def test_reset_all_resets_both_ends_promptly(
    proxy: ChaosProxy, upstream: Upstream, clients: Clients
) -> None:
    reader, writer = await clients.connect(proxy)
    assert await roundtrip(reader, writer, b"hello") == b"hello"

    assert await proxy.reset_all() == 1

    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader.read(1), PROMPTLY)
    await asyncio.wait_for(upstream.reset_seen.wait(), PROMPTLY)
    assert (proxy.stats.resets, proxy.stats.open) == (1, 0)
    reader, writer = await clients.connect(proxy)
    assert await roundtrip(reader, writer, b"again") == b"again"


async def test_a_clients_reset_reaches_the_upstream_as_a_reset(
    proxy: ChaosProxy, upstream: Upstream
) -> None:
    reader, writer = await asyncio.open_connection(*proxy.address)
    assert await roundtrip(reader, writer, b"hello") == b"hello"
    sock = writer.transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
    await writer.wait_closed()
    await asyncio.wait_for(upstream.reset_seen.wait(), PROMPTLY)
    assert proxy.stats.resets == 1


async def test_an_unreachable_upstream_resets_the_client(clients: Clients) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        async with ChaosProxy("127.0.0.1", unused.getsockname()[1]) as proxy:
            reader, _writer = await clients.connect(proxy)
            with pytest.raises(ConnectionResetError):
                await asyncio.wait_for(reader.read(1), PROMPTLY)
            assert proxy.stats.resets == 1


async def test_a_blackhole_holds_bytes_until_it_is_lifted(
    proxy: ChaosProxy, clients: Clients
) -> None:
    held_reader, held_writer = await clients.connect(proxy)
    assert await roundtrip(held_reader, held_writer, b"before") == b"before"
    flowed = proxy.stats.bytes_up, proxy.stats.bytes_down

    proxy.blackhole(True)
    await no_answer(held_reader, held_writer)
    # A new connection is accepted by the kernel, and is as silent.
    new_reader, new_writer = await clients.connect(proxy)
    await no_answer(new_reader, new_writer)
    assert (proxy.stats.bytes_up, proxy.stats.bytes_down) == flowed
    assert proxy.stats.open == 2

    proxy.blackhole(False)
    reader, writer = await clients.connect(proxy)
    assert await roundtrip(reader, writer, b"after") == b"after"
    # The held ones carry on where they were, as after a partition heals.
    for held in (held_reader, new_reader):
        assert await asyncio.wait_for(held.readexactly(4), PROMPTLY) == b"ping"


async def test_refusing_fails_new_connections_and_spares_open_ones(
    proxy: ChaosProxy, clients: Clients
) -> None:
    reader, writer = await clients.connect(proxy)
    proxy.refuse(True)
    with pytest.raises(ConnectionRefusedError):
        await clients.connect(proxy)
    assert await roundtrip(reader, writer, b"still") == b"still"
    proxy.refuse(False)
    reader, writer = await clients.connect(proxy)
    assert await roundtrip(reader, writer, b"back") == b"back"
    assert proxy.stats.accepted == 2


async def test_a_reset_outage_resets_refuses_and_then_recovers(
    proxy: ChaosProxy, clients: Clients
) -> None:
    reader, writer = await clients.connect(proxy)
    assert await roundtrip(reader, writer, b"up") == b"up"
    outage = asyncio.create_task(proxy.outage(0.5, kind="reset"))
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader.read(1), PROMPTLY)
    with pytest.raises(ConnectionRefusedError):
        await clients.connect(proxy)
    await outage
    assert not proxy.refusing
    reader, writer = await clients.connect(proxy)
    assert await roundtrip(reader, writer, b"recovered") == b"recovered"


@pytest.mark.parametrize("latency_ms", [0, 60_000], ids=["upstream-full", "everything-delayed"])
async def test_a_peer_that_does_not_read_stalls_the_writer_not_the_memory(
    latency_ms: int,
) -> None:
    sink = Upstream(echo=False)
    await sink.start()
    max_held = 256 * 1024
    try:
        async with ChaosProxy("127.0.0.1", sink.port, max_held_bytes=max_held) as proxy:
            proxy.latency_ms = latency_ms
            _reader, writer = await asyncio.open_connection(*proxy.address)
            try:
                chunk, written = bytes(65536), 0
                while written < 512 * 1024 * 1024:
                    writer.write(chunk)
                    written += len(chunk)
                    try:
                        await asyncio.wait_for(writer.drain(), 0.5)
                    except TimeoutError:
                        break
                else:
                    pytest.fail("the writer never had to wait")
                # What the proxy holds: its limit, plus one read and one socket buffer at most.
                held = proxy.stats.held_bytes
                assert held <= max_held + 256 * 1024 + 64 * 1024
                # Delayed, nothing reaches the upstream: the proxy's limit is what stops reading.
                assert held >= (max_held if latency_ms else 1)
            finally:
                writer.transport.abort()
                await writer.wait_closed()
    finally:
        await sink.close()


def _probe(condition: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return condition()

    return probe


def _open_fds() -> int | None:
    try:
        return len(os.listdir("/proc/self/fd"))
    except FileNotFoundError:
        return None


async def test_closing_leaves_no_connection_task_or_socket(clients: Clients) -> None:
    tasks_before, fds_before = len(asyncio.all_tasks()), _open_fds()
    upstream = Upstream()
    await upstream.start()
    proxy = ChaosProxy("127.0.0.1", upstream.port)
    await proxy.start()
    readers = []
    for _ in range(3):  # flowing
        reader, writer = await clients.connect(proxy)
        assert await roundtrip(reader, writer, b"hi") == b"hi"
        readers.append(reader)
    proxy.latency_ms = 10_000  # with bytes waiting on a timer
    reader, writer = await clients.connect(proxy)
    writer.write(b"late")
    readers.append(reader)
    await wait_until(_probe(lambda: proxy.stats.held_bytes == 4), timeout=PROMPTLY)
    proxy.blackhole(True)  # and one held before it reached the upstream
    reader, writer = await clients.connect(proxy)
    writer.write(b"held")
    readers.append(reader)
    await wait_until(_probe(lambda: proxy.stats.open == 5), timeout=PROMPTLY)

    await proxy.close()

    assert proxy.stats.open == 0 and proxy.stats.held_bytes == 0
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("chaos-proxy")]
    for reader in readers:
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(reader.read(1), PROMPTLY)
    with pytest.raises(ConnectionRefusedError):
        await clients.connect(proxy)
    await clients.close()
    await upstream.close()
    assert len(asyncio.all_tasks()) == tasks_before
    assert _open_fds() == fds_before


@pytest.mark.parametrize("kind", ["blackhole", "refuse"])
async def test_an_outage_ends_with_things_as_they_were_before_it(
    proxy: ChaosProxy, clients: Clients, kind: OutageKind
) -> None:
    reader, writer = await clients.connect(proxy)
    await proxy.outage(0.05, kind=kind)
    assert not proxy.blackholed and not proxy.refusing
    assert await roundtrip(reader, writer, b"open") == b"open"
    reader, writer = await clients.connect(proxy)
    assert await roundtrip(reader, writer, b"new") == b"new"

    proxy.refuse(True)
    await proxy.outage(0.05, kind=kind)
    assert proxy.refusing  # it was before the outage
