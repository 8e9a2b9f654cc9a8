"""aio-pika and asyncpg through the fault-injection proxy, to the local RabbitMQ and PostgreSQL."""

from __future__ import annotations

import asyncio
from urllib.parse import quote, urlsplit

import aio_pika
import asyncpg
import pytest

from tests.support.chaos_proxy import ChaosProxy
from tests.support.infra import BASE_AMQP_URL, BASE_DATABASE_URL
from tests.support.waiting import wait_until

pytestmark = pytest.mark.asyncio(loop_scope="session")

AMQP = urlsplit(BASE_AMQP_URL)
POSTGRES = urlsplit(BASE_DATABASE_URL)
#: How long a client is given to notice a reset, generously.
PROMPTLY = 5.0


def _amqp_url_via(proxy: ChaosProxy) -> str:
    user = quote(AMQP.username or "guest", safe="")
    password = quote(AMQP.password or "guest", safe="")
    return f"amqp://{user}:{password}@127.0.0.1:{proxy.port}{AMQP.path or '/'}"


async def test_aio_pika_works_through_the_proxy_and_sees_its_reset() -> None:
    async with ChaosProxy(AMQP.hostname or "127.0.0.1", AMQP.port or 5672) as proxy:
        connection = await aio_pika.connect(_amqp_url_via(proxy))
        try:
            closed: asyncio.Future[BaseException | None] = asyncio.Future()

            def on_close(_sender: object, exc: BaseException | None) -> None:
                if not closed.done():
                    closed.set_result(exc)

            connection.close_callbacks.add(on_close)
            channel = await connection.channel()  # with publisher confirms
            queue = await channel.declare_queue(exclusive=True, auto_delete=True)
            await channel.default_exchange.publish(
                aio_pika.Message(b"through the proxy"), routing_key=queue.name
            )
            message = await queue.get(timeout=PROMPTLY)
            assert message.body == b"through the proxy"
            await message.ack()
            assert proxy.stats.bytes_up > 0 and proxy.stats.bytes_down > 0

            assert await proxy.reset_all() == 1

            reason = await asyncio.wait_for(closed, PROMPTLY)
            assert isinstance(reason, aio_pika.exceptions.AMQPConnectionError), reason
            assert isinstance(reason.__cause__, ConnectionResetError), reason
            assert not connection.connected.is_set()
        finally:
            await connection.close()


async def test_asyncpg_works_through_the_proxy_and_a_reset_fails_its_query() -> None:
    direct = await asyncpg.connect(BASE_DATABASE_URL)
    async with ChaosProxy(POSTGRES.hostname or "127.0.0.1", POSTGRES.port or 5432) as proxy:
        conn = await asyncpg.connect(
            host="127.0.0.1",
            port=proxy.port,
            user=POSTGRES.username or "postgres",
            password=POSTGRES.password,
            database=POSTGRES.path.lstrip("/") or "postgres",
        )
        pid = conn.get_server_pid()
        try:
            assert await conn.fetchval("SELECT 1 + 1") == 2

            query = asyncio.create_task(conn.fetchval("SELECT pg_sleep(30)"))

            async def sleeping() -> bool:
                state = await direct.fetchval(
                    "SELECT state FROM pg_stat_activity WHERE pid = $1", pid
                )
                return bool(state == "active")

            await wait_until(sleeping, timeout=PROMPTLY, message="the query to be running")

            assert await proxy.reset_all() == 1

            with pytest.raises(asyncpg.ConnectionDoesNotExistError):
                await asyncio.wait_for(query, PROMPTLY)
            assert conn.is_closed()
            with pytest.raises(asyncpg.InterfaceError):
                await conn.fetchval("SELECT 1")
        finally:
            conn.terminate()
            # The server notices a reset only when it next writes: do not leave it sleeping.
            await direct.execute("SELECT pg_terminate_backend($1)", pid)
            await direct.close()
