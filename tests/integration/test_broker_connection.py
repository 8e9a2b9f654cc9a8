"""Connections over several broker nodes (VCS_AMQP_URL naming a cluster), against the machine's
broker and a port where no node listens: a node that is down is skipped, whichever order the
nodes are tried in, and a robust connection moves on from it. Failover between live nodes of a
real cluster: tests/cluster/test_rabbit_cluster.py."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import pytest

from shared import broker_connection
from shared.broker_connection import connect, connect_robust
from tests.support.infra import Infra
from tests.support.stack import free_port

pytestmark = pytest.mark.asyncio(loop_scope="session")


def with_dead_node_first(infra: Infra) -> str:
    parts = urlsplit(infra.amqp_url)
    userinfo, _, live = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{userinfo}@127.0.0.1:{free_port()},{live}"))


@pytest.fixture
def in_listed_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(broker_connection.random, "shuffle", lambda nodes: None)


@pytest.mark.usefixtures("in_listed_order")
async def test_a_connection_skips_a_node_that_is_down(infra: Infra) -> None:
    connection = await connect(with_dead_node_first(infra))
    async with connection:
        channel = await connection.channel()
        assert not channel.is_closed


@pytest.mark.usefixtures("in_listed_order")
async def test_a_robust_connection_moves_on_from_a_node_that_is_down(infra: Infra) -> None:
    connection = await connect_robust(with_dead_node_first(infra), reconnect_interval=0.1)
    async with connection:
        assert isinstance(connection, broker_connection.ClusterConnection)
        assert connection.url.port == urlsplit(infra.amqp_url).port
        channel = await connection.channel()
        assert not channel.is_closed


async def test_every_node_down_is_an_error(infra: Infra) -> None:
    parts = urlsplit(infra.amqp_url)
    dead = f"127.0.0.1:{free_port()},127.0.0.1:{free_port()}"
    url = urlunsplit(parts._replace(netloc=f"guest:guest@{dead}"))
    with pytest.raises(broker_connection.NODE_UNAVAILABLE):
        await connect(url)
