"""Connections to the broker: one node, or whichever node of a cluster answers.

`VCS_AMQP_URL` names one node, or several the way libpq names several servers:
`amqp://user:pass@host1:5672,host2:5672,host3:5672/vhost`. aio-pika takes one address, so a
connection here tries the nodes one after the other, in an order shuffled for each
connection (clients spread over the nodes, and a dead node listed first does not hold up
every connection). The worker, the dispatcher and the mock start a new session (and so a new
connection) when theirs drops; the api's robust connection moves to the next node by itself.
"""

from __future__ import annotations

import random
from functools import partial
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import aiormq
import structlog
from aio_pika.abc import AbstractConnection, AbstractRobustConnection
from aio_pika.robust_connection import RobustConnection
from yarl import URL

log = structlog.get_logger()

#: Seconds one node may take to accept a connection when others could be tried instead.
NODE_CONNECT_TIMEOUT_S = 10.0

#: What a node that is down, booting or unreachable raises to a client connecting to it.
NODE_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    aiormq.exceptions.AMQPConnectionError,
)


def broker_urls(url: str) -> list[str]:
    """One URL per node named in `url` (credentials, vhost and options shared)."""
    parts = urlsplit(url)
    if parts.scheme not in ("amqp", "amqps"):
        raise ValueError(f"a broker URL starts with amqp:// or amqps://, not {url[:8]!r}")
    userinfo, at, hosts = parts.netloc.rpartition("@")
    nodes = hosts.split(",")
    if not all(node.strip() for node in nodes):
        raise ValueError("a broker URL names each node as host or host:port, comma-separated")
    return [urlunsplit(parts._replace(netloc=f"{userinfo}{at}{node}")) for node in nodes]


def _shown(url: str) -> str:
    """The node, for a log line (never the credentials)."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 5672}"


def _nodes_to_try(url: str, kwargs: dict[str, Any]) -> list[str]:
    """The nodes' URLs in this connection's order; with several, each attempt is bounded."""
    urls = broker_urls(url)
    if len(urls) > 1:
        random.shuffle(urls)
        kwargs.setdefault("timeout", NODE_CONNECT_TIMEOUT_S)
    return urls


async def connect(url: str, **kwargs: Any) -> AbstractConnection:
    """A plain connection to the first node that answers."""
    urls = _nodes_to_try(url, kwargs)
    for tried, node in enumerate(urls, start=1):
        try:
            connection: AbstractConnection = await aio_pika.connect(node, **kwargs)
            return connection
        except NODE_UNAVAILABLE as exc:
            if tried == len(urls):
                raise
            log.warning(
                "broker node unavailable, trying the next", node=_shown(node), error=repr(exc)
            )
    raise AssertionError("unreachable")


async def connect_robust(url: str, **kwargs: Any) -> AbstractRobustConnection:
    """A robust connection (it makes itself again when lost) over the nodes named in `url`."""
    urls = _nodes_to_try(url, kwargs)
    if len(urls) > 1:
        kwargs["connection_class"] = partial(ClusterConnection, others=urls[1:])
    connection: AbstractRobustConnection = await aio_pika.connect_robust(urls[0], **kwargs)
    return connection


class ClusterConnection(RobustConnection):
    """A robust connection that takes the next node when an attempt fails or the connection
    is lost, instead of trying the same address for ever.

    aio-pika has no hook for the address of each attempt (its issue #141): this overrides
    the private method every attempt goes through (`RobustConnection.__connect_transport`),
    which tests/unit/test_broker_connection.py checks still exists, so an upgrade of aio-pika
    that renames it fails there, not in production."""

    def __init__(self, url: URL, loop: Any = None, *, others: list[str], **kwargs: Any) -> None:
        super().__init__(url, loop=loop, **kwargs)
        # The first URL carries the connection's options in its query (aio-pika's make_url).
        self._nodes = [URL(url)] + [URL(other).with_query(URL(url).query) for other in others]
        self._turn = 0

    async def _RobustConnection__connect_transport(self) -> None:
        # One attempt tries every node once, from the one after the last that failed: with
        # aio-pika's fail_fast, the first attempt's error would otherwise end connect_robust.
        for tried in range(1, len(self._nodes) + 1):
            self.url = self._nodes[self._turn % len(self._nodes)]
            try:
                await super()._RobustConnection__connect_transport()  # type: ignore[misc]
                return
            except NODE_UNAVAILABLE as exc:
                self._turn += 1
                if tried == len(self._nodes):
                    raise
                log.warning(
                    "broker node unavailable, trying the next",
                    node=_shown(str(self.url)),
                    error=repr(exc),
                )

    async def _on_connection_close(self, closing: Any) -> None:
        # An established connection lost (not a failed attempt, which the loop above moves
        # on from, nor our own close): its node went away, so start with the next.
        if self.connected.is_set() and not (self._close_called or self.is_closed):
            self._turn += 1
        await super()._on_connection_close(closing)
