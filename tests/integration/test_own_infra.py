"""Our own RabbitMQ nodes and PostgreSQL clusters: they start, take traffic, survive
stop_app, restarts and kills, cluster and fail over, and leave nothing behind, while the
machine's broker (5672) and database (5432) keep running as they were.

These start real processes (a RabbitMQ node takes about 20 s to boot): select them with
`-m own_infra`, or leave them out with `-m "not own_infra"`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from uuid import uuid4

import aio_pika
import aiohttp
import asyncpg
import pytest
import pytest_asyncio

from tests.support.infra import BASE_AMQP_URL, BASE_DATABASE_URL
from tests.support.own_postgres import PG_BIN, own_postgres, own_postgres_pair
from tests.support.own_processes import is_alive, make_base_dir, marked_processes, tcp_accepts
from tests.support.own_rabbitmq import (
    RABBITMQ_SCRIPTS,
    OwnRabbitNode,
    own_rabbit_cluster,
    own_rabbit_node,
)
from tests.support.waiting import wait_until

pytestmark = [
    pytest.mark.own_infra,
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.skipif(
        os.geteuid() != 0 or not RABBITMQ_SCRIPTS.is_dir() or not PG_BIN.is_dir(),
        reason="needs root (to run as rabbitmq and postgres), RabbitMQ and PostgreSQL 15",
    ),
]

MACHINE_BROKER_PID_FILE = Path("/var/lib/rabbitmq/mnesia/rabbit@localhost.pid")
MACHINE_POSTGRES_PID_FILE = Path("/var/lib/postgresql/15/main/postmaster.pid")


def _first_line_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


@pytest.fixture(scope="module")
def machine_pids() -> dict[str, int | None]:
    """The machine's broker and postmaster pids before we start anything (read only)."""
    return {
        "rabbitmq": _first_line_pid(MACHINE_BROKER_PID_FILE),
        "postgres": _first_line_pid(MACHINE_POSTGRES_PID_FILE),
    }


@pytest.fixture(scope="module")
def base(machine_pids: dict[str, int | None]) -> Iterator[Path]:
    """One folder for all nodes and clusters of this module; each removes its own part."""
    path = make_base_dir("own-infra-test-")
    yield path
    left = sorted(p.name for p in path.iterdir())
    shutil.rmtree(path, ignore_errors=True)
    assert not left, f"cleanup left folders behind: {left}"


async def assert_machine_untouched(machine_pids: dict[str, int | None]) -> None:
    """The machine's node and cluster still answer, with the same pids as before."""
    connection = await aio_pika.connect(BASE_AMQP_URL, timeout=10)
    await connection.close()
    conn = await asyncpg.connect(BASE_DATABASE_URL, timeout=10)
    try:
        assert await conn.fetchval("SELECT 1") == 1
    finally:
        await conn.close()
    assert _first_line_pid(MACHINE_BROKER_PID_FILE) == machine_pids["rabbitmq"]
    assert _first_line_pid(MACHINE_POSTGRES_PID_FILE) == machine_pids["postgres"]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def node(base: Path, request: pytest.FixtureRequest) -> AsyncIterator[OwnRabbitNode]:
    """One node for the tests that only need some node; its logs are printed if one failed."""
    failed_before = request.session.testsfailed
    async with own_rabbit_node("single", base, extra_config=["consumer_timeout = 60000"]) as n:
        yield n
        if request.session.testsfailed > failed_before:
            print(f"\n{n!r} logs:\n{n.log_tails(80)}")
    print(f"\n{n.timings.report(n.name)}\n{n.site.timings.report('epmd')}")


async def publish_persistent(url: str, queue_name: str, body: bytes) -> None:
    """Declare a durable queue and put one persistent message on it, confirmed by the broker
    (for a persistent message on a durable queue, the confirm comes once it is on disk)."""
    connection = await aio_pika.connect(url, timeout=10)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        await channel.declare_queue(queue_name, durable=True)
        await channel.default_exchange.publish(
            aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT), queue_name
        )


async def take_one(url: str, queue_name: str) -> bytes:
    connection = await aio_pika.connect(url, timeout=10)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, durable=True, passive=True)
        message = await queue.get(timeout=5, fail=True)
        assert message is not None
        await message.ack()
        return message.body


async def test_a_node_of_our_own_round_trips_a_message(node: OwnRabbitNode) -> None:
    assert node.amqp_port != 5672
    assert await node.running_nodes() == [node.nodename]
    async with (
        aiohttp.ClientSession(
            headers={"Authorization": aiohttp.encode_basic_auth("guest", "guest")}
        ) as http,
        http.get(f"{node.management_url}/api/overview") as response,
    ):
        assert response.status == 200
        assert (await response.json())["node"] == node.nodename

    connection = await aio_pika.connect(node.amqp_url, timeout=10)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True)
        await channel.default_exchange.publish(aio_pika.Message(b"ping"), queue.name)
        message = await queue.get(timeout=5, fail=True)
        assert message is not None
        assert message.body == b"ping"
        await message.ack()


async def test_stop_app_and_start_app_keep_a_durable_queue(node: OwnRabbitNode) -> None:
    queue_name = f"own_durable_{uuid4().hex[:8]}"
    await publish_persistent(node.amqp_url, queue_name, b"kept")

    await node.stop_app()
    assert not await tcp_accepts(node.amqp_port)
    assert node.beam_pid() is not None, "stop_app keeps the Erlang VM up"
    await node.start_app()

    assert await take_one(node.amqp_url, queue_name) == b"kept"


async def test_a_killed_node_restarts_with_its_data(node: OwnRabbitNode) -> None:
    queue_name = f"own_durable_{uuid4().hex[:8]}"
    await publish_persistent(node.amqp_url, queue_name, b"survives")

    killed = node.kill()
    assert not is_alive(killed)
    assert not node.running
    assert not await tcp_accepts(node.amqp_port)

    await node.restart_after_kill()
    assert node.beam_pid() not in (None, killed)
    assert await take_one(node.amqp_url, queue_name) == b"survives"


async def test_clean_stop_and_cleanup_leave_nothing_running(
    base: Path, machine_pids: dict[str, int | None]
) -> None:
    async with own_rabbit_node("stopper", base) as stopper:
        beam = stopper.beam_pid()
        assert beam is not None
        await stopper.stop()
        assert not is_alive(beam)
        assert not stopper.running
        assert stopper.site.running, "the node's own epmd runs until cleanup"
    assert marked_processes(stopper.marker) == []
    assert marked_processes(stopper.site.marker) == []
    assert not stopper.root.exists()
    assert not stopper.site.root.exists()
    assert not await tcp_accepts(stopper.site.epmd_port)
    print(f"\n{stopper.timings.report(stopper.name)}")
    await assert_machine_untouched(machine_pids)


async def test_three_nodes_form_one_cluster(
    base: Path, machine_pids: dict[str, int | None]
) -> None:
    async with own_rabbit_cluster("trio", base, 3) as cluster:
        expected = sorted(cluster.nodenames)
        for member in cluster.nodes:
            assert sorted(await member.running_nodes()) == expected
        first, *_, last = cluster.nodes
        queue_name = f"own_clustered_{uuid4().hex[:8]}"
        await publish_persistent(first.amqp_url, queue_name, b"across")
        assert await take_one(last.amqp_url, queue_name) == b"across"
        beams = [member.beam_pid() for member in cluster.nodes]
        assert None not in beams
    print(f"\n{cluster.report()}")
    assert not any(is_alive(pid) for pid in beams if pid is not None)
    for member in cluster.nodes:
        assert marked_processes(member.marker) == []
        assert not member.root.exists()
    assert marked_processes(cluster.site.marker) == []
    await assert_machine_untouched(machine_pids)


async def test_a_postgres_of_our_own_restarts_and_survives_a_kill(
    base: Path, machine_pids: dict[str, int | None]
) -> None:
    async with own_postgres("single", base) as pg:
        assert pg.port != 5432
        conn = await asyncpg.connect(pg.dsn)
        try:
            await conn.execute("CREATE TABLE kept (id int PRIMARY KEY)")
            await conn.execute("INSERT INTO kept VALUES (1)")
        finally:
            await conn.close()

        await pg.restart("fast")
        conn = await pg.connect()
        try:
            assert await conn.fetchval("SELECT count(*) FROM kept") == 1
            await conn.execute("INSERT INTO kept VALUES (2)")
        finally:
            await conn.close()

        killed = await pg.kill()
        assert not is_alive(killed)
        assert not pg.running
        with pytest.raises((OSError, asyncpg.PostgresError)):
            await asyncpg.connect(pg.dsn, timeout=5)

        await pg.start()
        conn = await pg.connect()
        try:
            assert await conn.fetchval("SELECT count(*) FROM kept") == 2
        finally:
            await conn.close()
        postmaster = pg.postmaster_pid()
        assert postmaster not in (None, killed)
    print(f"\n{pg.timings.report(pg.name)}")
    assert postmaster is not None and not is_alive(postmaster)
    assert not pg.root.exists()
    await assert_machine_untouched(machine_pids)


async def test_a_sync_standby_is_promoted_when_the_primary_dies(
    base: Path, machine_pids: dict[str, int | None]
) -> None:
    async with own_postgres_pair("ha", base) as (primary, standby):
        conn = await primary.connect()
        try:
            sync_state = await conn.fetchval(
                "SELECT sync_state FROM pg_stat_replication WHERE application_name = $1",
                standby.cluster_name,
            )
            assert sync_state == "sync"
            await conn.execute("CREATE TABLE calls (id int PRIMARY KEY)")
            await conn.execute("INSERT INTO calls VALUES (1)")
        finally:
            await conn.close()

        reader = await standby.connect()
        try:

            async def replicated() -> bool:
                has_table = await reader.fetchval("SELECT to_regclass('calls') IS NOT NULL")
                return bool(has_table) and await reader.fetchval("SELECT count(*) FROM calls") == 1

            await wait_until(replicated, timeout=10, message="the row on the standby")
            with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
                await reader.execute("INSERT INTO calls VALUES (2)")
        finally:
            await reader.close()

        await primary.stop("immediate")
        assert not primary.running
        await standby.promote()

        conn = await standby.connect()
        try:
            await conn.execute("INSERT INTO calls VALUES (2)")
            assert await conn.fetchval("SELECT count(*) FROM calls") == 2
        finally:
            await conn.close()
    print(f"\n{primary.timings.report(primary.name)}\n{standby.timings.report(standby.name)}")
    assert not primary.root.exists() and not standby.root.exists()
    await assert_machine_untouched(machine_pids)
