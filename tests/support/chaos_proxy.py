"""A TCP fault-injection proxy for the fault tests, in plain asyncio, listening on 127.0.0.1.

The services run as OS processes of their own and are pointed at the proxy's port instead of
RabbitMQ's or PostgreSQL's; the test runs the proxy in its own event loop and changes what it
does while connections are open::

    async with ChaosProxy("127.0.0.1", 5672) as proxy:
        ...  # start the services with the broker at proxy.port
        proxy.latency_ms = 200  # each chunk, each way: a round trip takes 400 ms more
        await proxy.reset_all()  # every open connection: a TCP RST to both ends
        proxy.blackhole(True)  # connections stay open, nothing flows
        proxy.blackhole(False)  # ...and the held bytes flow again
        await proxy.outage(5, kind="reset")  # a crash: resets, then refusals for 5 s

Each accepted connection gets its own upstream connection. Bytes are forwarded in order, a
half-close (FIN) is passed on as one, and a reset from either end is passed on as a reset.
Reading stops while the proxy holds `max_held_bytes` for the other end (or that end's socket
buffer is full), so a large transfer is slowed by its slowest end, never buffered in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import random
import socket
import struct
from collections import deque
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, Self, cast

__all__ = ["HOST", "ChaosProxy", "ChaosStats", "OutageKind"]

#: The only address the proxy listens on.
HOST = "127.0.0.1"

#: What `ChaosProxy.outage` does for its duration.
OutageKind = Literal["blackhole", "refuse", "reset"]

_log = logging.getLogger(__name__)

#: SO_LINGER on, timeout 0: close() then sends a RST and drops unsent data instead of a FIN.
_LINGER_ZERO = struct.pack("ii", 1, 0)
_BACKLOG = 128
#: Connections taken off the listen queue per readiness callback, so others get a turn.
_ACCEPTS_PER_CALLBACK = 32


@dataclass(frozen=True, slots=True)
class ChaosStats:
    """The proxy's counters at one moment."""

    #: Connections accepted since the proxy started.
    accepted: int
    #: Connections accepted and not yet closed on both sides.
    open: int
    #: Bytes delivered from clients to the upstream.
    bytes_up: int
    #: Bytes delivered from the upstream to clients.
    bytes_down: int
    #: Connections the proxy ended with a RST: by `reset_all`, an outage of kind "reset", an
    #: upstream that could not be reached, or a reset from one end passed on to the other.
    resets: int
    #: Bytes read and not yet delivered: held back by latency or a blackhole, or waiting in a
    #: socket's write buffer.
    held_bytes: int


class ChaosProxy:
    """Forwards TCP connections from 127.0.0.1:`listen_port` to the upstream, with faults.

    Every behaviour can be changed at any time, also while connections are open. Listening
    starts with `start()` (or `async with`); `close()` resets whatever is still open. The
    upstream is meant to be local: an upstream connect under way is waited for, not cancelled.
    """

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        listen_port: int = 0,
        *,
        max_held_bytes: int = 1 << 20,
        seed: int | None = None,
    ) -> None:
        """`listen_port` 0 takes a free port; `seed` makes the jitter reproducible."""
        if max_held_bytes <= 0:
            raise ValueError("max_held_bytes must be positive")
        self._upstream = (upstream_host, upstream_port)
        self._port = listen_port
        self.max_held_bytes = max_held_bytes
        self._random = random.Random(seed)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listener: socket.socket | None = None
        self._listening = False
        self._closed = False
        self._connections: set[_Connection] = set()
        self._latency = 0.0
        self._jitter = 0.0
        self._blackholed = False
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._refusing = False
        self._accepted = 0
        self._resets = 0
        self._bytes = {"up": 0, "down": 0}

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind 127.0.0.1:`listen_port` and accept connections (unless refusing)."""
        if self._loop is not None or self._closed:
            raise RuntimeError("a proxy can be started once")
        self._loop = asyncio.get_running_loop()
        self._listener = _bound_socket(self._port)
        self._port = self._listener.getsockname()[1]
        self._sync_listening()

    async def close(self) -> None:
        """Stop listening and reset every open connection; returns once all are closed."""
        if self._closed:
            return
        self._closed = True
        self._sync_listening()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        await self._end_all(count=False)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def port(self) -> int:
        """The port the proxy listens on (known once started)."""
        if self._loop is None:
            raise RuntimeError("the proxy is not started")
        return self._port

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) to point a client at."""
        return HOST, self.port

    # -- behaviours -----------------------------------------------------------------------

    @property
    def latency_ms(self) -> float:
        """One-way delay added to every chunk in both directions (a round trip pays twice)."""
        return self._latency * 1000

    @latency_ms.setter
    def latency_ms(self, value: float) -> None:
        if value < 0:
            raise ValueError("latency_ms must not be negative")
        self._latency = value / 1000

    @property
    def jitter_ms(self) -> float:
        """Up to this much more delay, drawn per chunk; bytes stay in order regardless."""
        return self._jitter * 1000

    @jitter_ms.setter
    def jitter_ms(self, value: float) -> None:
        if value < 0:
            raise ValueError("jitter_ms must not be negative")
        self._jitter = value / 1000

    @property
    def blackholed(self) -> bool:
        """Whether bytes are being held (see `blackhole`)."""
        return self._blackholed

    @property
    def refusing(self) -> bool:
        """Whether new connections are being refused (see `refuse`)."""
        return self._refusing

    async def reset_all(self) -> int:
        """Abort every open connection with a RST to both ends; returns how many there were.

        Unsent data is dropped and both peers see ECONNRESET, not a clean close. Returns once
        the sockets are closed. New connections are accepted as before (see `outage`).
        """
        return await self._end_all(count=True)

    def blackhole(self, on: bool = True) -> None:
        """Hold every byte in both directions, for open connections and new ones, or stop.

        Nothing is read from either end while on: what peers send stays in socket buffers
        (and whatever the proxy had read stays with it), so each end's writes soon block as
        over a network that has gone silent. Open connections stay open; new connections are
        accepted by the kernel but not connected upstream. Ends that close meanwhile are only
        noticed later. When turned off, held bytes flow on in order and held new connections
        are connected upstream, as after a partition heals; to have them reset instead, call
        `reset_all()` before turning the blackhole off.
        """
        self._blackholed = on
        if on:
            self._flowing.clear()
        else:
            self._flowing.set()
        for connection in list(self._connections):
            connection.update()

    def refuse(self, on: bool = True) -> None:
        """Refuse new connections (ECONNREFUSED), or accept them again; open ones carry on.

        The listening socket is closed, which also resets connections the kernel had queued
        but the proxy had not accepted yet, and the port stays bound so it can't be taken.
        """
        self._refusing = on
        self._sync_listening()

    async def outage(self, seconds: float, kind: OutageKind = "blackhole") -> None:
        """One fault for `seconds`, then things as they were before it.

        "blackhole": `blackhole(True)` and then off (held connections resume);
        "refuse": new connections are refused, open ones are untouched;
        "reset": the upstream crashes and restarts: open connections are reset and new ones
        refused for the duration.
        """
        if kind not in ("blackhole", "refuse", "reset"):
            raise ValueError(f"unknown outage kind: {kind!r}")
        was_blackholed, was_refusing = self._blackholed, self._refusing
        try:
            if kind == "blackhole":
                self.blackhole(True)
            else:
                self.refuse(True)
                if kind == "reset":
                    await self.reset_all()
            await asyncio.sleep(seconds)
        finally:
            if kind == "blackhole":
                self.blackhole(was_blackholed)
            else:
                self.refuse(was_refusing)

    # -- counters -------------------------------------------------------------------------

    @property
    def stats(self) -> ChaosStats:
        """A snapshot of the counters."""
        return ChaosStats(
            accepted=self._accepted,
            open=len(self._connections),
            bytes_up=self._bytes["up"],
            bytes_down=self._bytes["down"],
            resets=self._resets,
            held_bytes=sum(c.held_bytes() for c in self._connections),
        )

    # -- internals ------------------------------------------------------------------------

    def _sync_listening(self) -> None:
        """Listen and accept, or not, as `_closed` and `_refusing` say."""
        loop, listener = self._loop, self._listener
        if loop is None or listener is None:
            return
        wanted = not (self._closed or self._refusing)
        if wanted and not self._listening:
            listener.listen(_BACKLOG)
            loop.add_reader(listener.fileno(), self._on_acceptable)
            self._listening = True
        elif not wanted and self._listening:
            loop.remove_reader(listener.fileno())
            self._listening = False
            # A bound socket that does not listen gets connections refused. Closing the old
            # one is the portable way to stop listening; its successor keeps the port taken.
            listener.close()
            self._listener = None if self._closed else _bound_socket(self._port)

    def _on_acceptable(self) -> None:
        listener = self._listener
        assert listener is not None
        for _ in range(_ACCEPTS_PER_CALLBACK):
            try:
                sock, _peer = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno == errno.ECONNABORTED:
                    continue
                _log.warning("chaos proxy on port %d cannot accept: %s", self._port, exc)
                return
            sock.setblocking(False)
            self._accepted += 1
            self._connections.add(_Connection(self, sock))

    async def _end_all(self, *, count: bool) -> int:
        connections = list(self._connections)
        ended = sum(c.end(rst=True, count=count) for c in connections)
        if connections:
            # asyncio.wait, not gather: if the caller is cancelled the futures must live on.
            await asyncio.wait([c.finished for c in connections])
        return ended

    def _delay(self) -> float:
        if self._jitter:
            return self._latency + self._random.uniform(0, self._jitter)
        return self._latency


def _bound_socket(port: int) -> socket.socket:
    """A TCP socket bound to HOST:port (any free port for 0), not listening yet."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # Rebinding while connections accepted on the port are open, or in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _set_rst_on_close(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)


def _close_with_rst(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
    sock.close()


class _Side(asyncio.Protocol):
    """One socket of a proxied connection: the client's or the upstream's."""

    def __init__(self, connection: _Connection) -> None:
        self.connection = connection
        self.transport: asyncio.Transport | None = None
        self.lost = False
        #: The peer's FIN has arrived: nothing more to read.
        self.eof = False
        #: The socket's write buffer is over its high-water mark.
        self.write_paused = False

    @property
    def writable(self) -> bool:
        return self.transport is not None and not self.lost and not self.transport.is_closing()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.connection.made(self)

    def data_received(self, data: bytes) -> None:
        self.connection.received(self, data)

    def eof_received(self) -> bool:
        if not self.eof:
            self.eof = True
            self.connection.received(self, None)
        return True  # keep the socket open: the other direction may still have bytes to send

    def pause_writing(self) -> None:
        self.write_paused = True
        self.connection.sync_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        self.connection.sync_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.connection.lost(self, exc)


class _Flow:
    """One direction of a connection: what `src` sent, on its way to `dst`, in order."""

    def __init__(self, proxy: ChaosProxy, src: _Side, dst: _Side, name: str) -> None:
        self.proxy = proxy
        self.src = src
        self.dst = dst
        self.name = name
        #: (when it may be delivered, bytes or None for the FIN)
        self.queue: deque[tuple[float, bytes | None]] = deque()
        self.queued_bytes = 0
        self.last_due = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.eof_sent = False

    def push(self, data: bytes | None, loop: asyncio.AbstractEventLoop) -> None:
        # Never before what came earlier, whatever the latency was then.
        due = max(loop.time() + self.proxy._delay(), self.last_due)
        self.last_due = due
        self.queue.append((due, data))
        self.queued_bytes += len(data) if data else 0

    def pump(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver what is due; come back by timer for the rest."""
        connection = self.src.connection
        if connection.dead or self.proxy._blackholed:
            self.stop_timer()
            return
        now = loop.time()
        while self.queue and self.dst.writable:
            due, data = self.queue[0]
            if due > now:
                if self.timer is None or self.timer.when() != due:
                    self.stop_timer()
                    self.timer = loop.call_at(due, self._on_timer)
                return
            self.queue.popleft()
            transport = self.dst.transport
            assert transport is not None
            if data is None:
                self.eof_sent = True
                if transport.can_write_eof():
                    transport.write_eof()
                connection.flow_ended()
            else:
                self.queued_bytes -= len(data)
                self.proxy._bytes[self.name] += len(data)
                transport.write(data)
        self.stop_timer()

    def _on_timer(self) -> None:
        self.timer = None
        self.src.connection.update()

    def stop_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def drop(self) -> None:
        self.stop_timer()
        self.queue.clear()
        self.queued_bytes = 0


class _Connection:
    """A client's connection and the upstream one made for it."""

    def __init__(self, proxy: ChaosProxy, sock: socket.socket) -> None:
        loop = proxy._loop
        assert loop is not None
        self.proxy = proxy
        self.loop = loop
        self.client = _Side(self)
        self.upstream = _Side(self)
        self.up = _Flow(proxy, self.client, self.upstream, "up")
        self.down = _Flow(proxy, self.upstream, self.client, "down")
        #: Ended by the proxy (or by a failure): no more bytes either way.
        self.dead = False
        self.rst = False
        #: Done once the task is over and every socket made is closed.
        self.finished: asyncio.Future[None] = loop.create_future()
        # The accepted socket until the task hands it to a transport.
        self._sock: socket.socket | None = sock
        self._waiting = False
        self._task = loop.create_task(self._open(), name=f"chaos-proxy-{proxy.port}-open")
        self._task.add_done_callback(self._opened)

    async def _open(self) -> None:
        sock, self._sock = self._sock, None
        assert sock is not None
        if self.dead:
            _close_with_rst(sock)
            return
        # Not cancelled while a transport is being made (see `end`): the sockets are closed
        # through their transports, by `made` or by `end`, once they exist.
        await self.loop.connect_accepted_socket(lambda: self.client, sock)
        if self.dead:
            return
        self.update()  # uvloop starts reading after connection_made whatever it was told
        if not self.proxy._flowing.is_set():
            # Blackholed: accepted, but not connected upstream until the blackhole is lifted.
            self._waiting = True
            try:
                await self.proxy._flowing.wait()
            finally:
                self._waiting = False
        if self.dead:
            return
        host, port = self.proxy._upstream
        try:
            await self.loop.create_connection(lambda: self.upstream, host, port)
        except OSError:
            # The client cannot be refused any more; a reset is the nearest thing.
            self.end(rst=True, count=True)
            return
        self.update()

    def _opened(self, task: asyncio.Task[None]) -> None:
        if self._sock is not None:  # cancelled from outside before it started
            _close_with_rst(self._sock)
            self._sock = None
        if not task.cancelled() and (exc := task.exception()) is not None:
            _log.error("chaos proxy connection failed", exc_info=exc)
            self.end(rst=True, count=False)
        self._check_finished()

    # -- called by the sides --------------------------------------------------------------

    def made(self, side: _Side) -> None:
        if self.dead:
            self._close(side)
        else:
            self.update()

    def received(self, side: _Side, data: bytes | None) -> None:
        if self.dead:
            return
        flow = self.up if side is self.client else self.down
        flow.push(data, self.loop)
        self.update()

    def lost(self, side: _Side, exc: Exception | None) -> None:
        if not self.dead:
            if exc is not None:
                # A reset from this end (or a write that failed): the other end gets one too.
                self.end(rst=True, count=True)
            else:
                other = self.upstream if side is self.client else self.client
                if other.writable:
                    assert other.transport is not None
                    other.transport.close()
        self._check_finished()

    def flow_ended(self) -> None:
        """A FIN was passed on; after one each way, close both sockets as their peers did."""
        if self.up.eof_sent and self.down.eof_sent:
            for side in (self.client, self.upstream):
                if side.writable:
                    assert side.transport is not None
                    side.transport.close()

    def update(self) -> None:
        """Deliver what is due, then read from each end only if its bytes can be taken."""
        for flow in (self.up, self.down):
            flow.pump(self.loop)
        self.sync_reading()

    def sync_reading(self) -> None:
        """Read from an end only while the proxy may take more of its bytes."""
        for flow in (self.up, self.down):
            transport = flow.src.transport
            # After a FIN the transport has stopped reading by itself: leave it so.
            if transport is None or flow.src.lost or flow.src.eof or transport.is_closing():
                continue
            wanted = not (
                self.dead
                or self.proxy._blackholed
                or flow.queued_bytes >= self.proxy.max_held_bytes
                or flow.dst.write_paused
            )
            if wanted and not transport.is_reading():
                transport.resume_reading()
            elif not wanted and transport.is_reading():
                transport.pause_reading()

    # -- ending ---------------------------------------------------------------------------

    def end(self, *, rst: bool, count: bool) -> bool:
        """Abort both sockets (with a RST if `rst`); False if the connection had ended."""
        if self.dead:
            return False
        self.dead = True
        self.rst = rst
        if rst and count:
            self.proxy._resets += 1
        for flow in (self.up, self.down):
            flow.drop()
        # Only a wait is cancelled, never the making of a transport: if its protocol has been
        # told of it, asyncio and uvloop differ in whether connection_lost follows.
        if self._waiting:
            self._task.cancel()
        for side in (self.client, self.upstream):
            self._close(side)
        self._check_finished()
        return True

    def _close(self, side: _Side) -> None:
        if side.transport is None or side.lost:
            return
        if self.rst:
            _set_rst_on_close(side.transport)
        side.transport.abort()

    def _check_finished(self) -> None:
        if self.finished.done() or not self._task.done():
            return
        for side in (self.client, self.upstream):
            if side.transport is not None and not side.lost:
                return
        for flow in (self.up, self.down):
            flow.drop()
        self.finished.set_result(None)
        self.proxy._connections.discard(self)

    def held_bytes(self) -> int:
        held = self.up.queued_bytes + self.down.queued_bytes
        for side in (self.client, self.upstream):
            if side.writable:
                assert side.transport is not None
                held += side.transport.get_write_buffer_size()
        return held
