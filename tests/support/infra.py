"""A database and a RabbitMQ vhost of its own for each test run, removed afterwards."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit
from uuid import uuid4

import aiohttp
import asyncpg

from shared.broker_connection import connect
from shared.db.migrate import apply_migrations, create_database_if_missing
from shared.topology import QueueType, declare_topology
from tests.support.own_rabbitmq import OwnRabbitCluster

BASE_DATABASE_URL = os.environ.get(
    "VCS_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BASE_AMQP_URL = os.environ.get("VCS_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
MANAGEMENT_URL = os.environ.get("VCS_TEST_MANAGEMENT_URL", "http://127.0.0.1:15672")


@dataclass(frozen=True)
class Infra:
    name: str
    database_url: str
    amqp_url: str
    vhost: str
    #: The servers it lives on: the machine's, or a test's own broker and database.
    base_database_url: str = BASE_DATABASE_URL
    base_amqp_url: str = BASE_AMQP_URL
    management_url: str = MANAGEMENT_URL
    queue_type: QueueType = "classic"


def _with_path(url: str, path: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=path))


async def create_infra(
    prefix: str = "vcs_test",
    *,
    database_url: str = BASE_DATABASE_URL,
    amqp_url: str = BASE_AMQP_URL,
    management_url: str = MANAGEMENT_URL,
    queue_type: QueueType = "classic",
) -> Infra:
    """A database and a vhost of their own, on the machine's servers unless told others
    (`amqp_url` may name the nodes of a cluster; `management_url` is one of theirs)."""
    name = f"{prefix}_{uuid4().hex[:10]}"
    own_database = _with_path(database_url, f"/{name}")
    await create_database_if_missing(own_database)
    await apply_migrations(own_database)
    await _create_vhost(name, amqp_url, management_url)
    own_amqp = _with_path(amqp_url, "/" + quote(name, safe=""))
    connection = await connect(own_amqp)
    async with connection:
        await declare_topology(await connection.channel(), queue_type)
    return Infra(
        name, own_database, own_amqp, name, database_url, amqp_url, management_url, queue_type
    )


async def create_quorum_infra(prefix: str, cluster: OwnRabbitCluster) -> Infra:
    """A database and a vhost of their own, the vhost on a cluster of the test's own (made
    through its first node's management API), the topology declared as quorum queues."""
    return await create_infra(
        prefix,
        amqp_url=cluster.amqp_url,
        management_url=cluster.nodes[0].management_url,
        queue_type="quorum",
    )


async def destroy_infra(infra: Infra) -> None:
    conn = await asyncpg.connect(_with_path(infra.base_database_url, "/postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{infra.name}" WITH (FORCE)')
    finally:
        await conn.close()
    await _delete_vhost(infra.vhost, infra.base_amqp_url, infra.management_url)


def _user(amqp_url: str) -> tuple[str, str]:
    parts = urlsplit(amqp_url)
    return parts.username or "guest", parts.password or "guest"


async def _management(
    amqp_url: str, management_url: str, method: str, path: str, json: object | None = None
) -> bool:
    """Call the management API; False if it is not reachable (the plugin is off)."""
    try:
        async with (
            aiohttp.ClientSession(
                headers={"Authorization": aiohttp.encode_basic_auth(*_user(amqp_url))}
            ) as http,
            http.request(method, f"{management_url}/api{path}", json=json) as response,
        ):
            if response.status >= 400 and not (method == "DELETE" and response.status == 404):
                raise RuntimeError(f"management API {method} {path}: {response.status}")
            return True
    except aiohttp.ClientConnectionError:
        return False


async def _create_vhost(vhost: str, amqp_url: str, management_url: str) -> None:
    user = _user(amqp_url)[0]
    encoded = quote(vhost, safe="")
    if await _management(amqp_url, management_url, "PUT", f"/vhosts/{encoded}"):
        await _management(
            amqp_url,
            management_url,
            "PUT",
            f"/permissions/{encoded}/{user}",
            {"configure": ".*", "write": ".*", "read": ".*"},
        )
        return
    await _rabbitmqctl("add_vhost", vhost)
    await _rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")


async def _delete_vhost(vhost: str, amqp_url: str, management_url: str) -> None:
    encoded = quote(vhost, safe="")
    if not await _management(amqp_url, management_url, "DELETE", f"/vhosts/{encoded}"):
        await _rabbitmqctl("delete_vhost", vhost)


async def _rabbitmqctl(*args: str) -> None:
    tool = shutil.which("rabbitmqctl")
    if tool is None:
        raise RuntimeError(
            "cannot create a RabbitMQ vhost: the management plugin is off and rabbitmqctl is"
            " not installed"
        )
    process = await asyncio.create_subprocess_exec(
        tool, *args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {err.decode()[:300]}")
