"""docker-compose.yml run for real on podman (make test-compose; tests/support/compose_stack.py).

Builds the base images from Debian's packages, our two images from deploy/ on them, brings the
stack up in compose's order with every health check run, sends a campaign through the api
container and the console's nginx, counts its dials at the mock carrier's container, and takes
the stack down, volumes and all. Its figures go to test-artifacts/compose.md.
"""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
import yaml

from tests.e2e.helpers import FINAL_CALL_STATUSES, finished, placed_per_number
from tests.support import local_images
from tests.support.api_client import ApiClient, MockClient
from tests.support.compose_stack import ComposeStack, HostPorts, local_stack
from tests.support.own_processes import make_base_dir
from tests.support.waiting import wait_until

pytestmark = [
    pytest.mark.compose,
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.timeout(1800),
]

ROOT = local_images.ROOT
ARTIFACTS = ROOT / "test-artifacts"
PROJECT = "vcscomposetest"
#: What the stack's own processes listen on, as docker-compose.yml has them (the host's network).
STACK_PORTS = {"api": 8081, "dispatcher": 8082, "worker": 8083, "worker-2": 8084,
               "telephony_mock": 8090, "ui": 3000}  # fmt: skip
#: UK drama numbers (Ofcom keeps 020 7946 0xxx for fiction): no rule of the shipped calling
#: policy covers GB, so the campaign may run at any hour CI runs.
NUMBERS = [f"+44207946{n:04d}" for n in range(100, 130)]


def _port_taken(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def tools() -> None:
    missing = [tool for tool in ("podman", "runc", "debootstrap", "node")
               if shutil.which(tool) is None]  # fmt: skip
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: `make test-compose` installs them")


def _check_ports_free(ports: HostPorts) -> None:
    taken = [port for port in (*STACK_PORTS.values(), ports.postgres, ports.amqp,
             ports.amqp_dist, ports.management, ports.redis) if _port_taken(port)]  # fmt: skip
    if taken:
        pytest.fail(f"ports {taken} are in use: the stack runs on the host's network")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(tools: None) -> AsyncIterator[tuple[ComposeStack, dict[str, float]]]:
    ARTIFACTS.mkdir(exist_ok=True)
    folder = make_base_dir("vcs-compose-")
    figures: dict[str, float] = {}
    started = time.monotonic()
    local_images.ensure_all(ARTIFACTS / "compose-images.log")
    figures["base images (s)"] = time.monotonic() - started
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    derived = local_stack(compose, HostPorts())
    running = ComposeStack(derived, folder, PROJECT, log=ARTIFACTS / "compose.log")
    await running.down()  # what an interrupted earlier run left
    _check_ports_free(HostPorts())
    try:
        started = time.monotonic()
        await running.build()
        local_images.prune_dangling()
        figures["our images (s)"] = time.monotonic() - started
        started = time.monotonic()
        await running.up(timeout=300)
        await running.all_healthy(timeout=120)
        figures["up and every health check passing (s)"] = time.monotonic() - started
        yield running, figures
    except BaseException:
        (ARTIFACTS / "compose-logs.txt").write_text(await running.logs())
        raise
    finally:
        started = time.monotonic()
        await running.down()
        figures["down (s)"] = time.monotonic() - started
        _report(figures)
        shutil.rmtree(folder, ignore_errors=True)


def _report(figures: dict[str, float]) -> None:
    lines = ["# make test-compose", "", "| phase | seconds |", "|---|---|"]
    lines += [f"| {phase} | {seconds:.1f} |" for phase, seconds in figures.items()]
    (ARTIFACTS / "compose.md").write_text("\n".join(lines) + "\n")


async def test_the_stack_runs_a_campaign(stack: tuple[ComposeStack, dict[str, float]]) -> None:
    running, figures = stack
    # A key as README tells an operator to make one, inside the api container.
    created = await running.exec("api", "python", "-m", "services.api", "keys", "create",
                                 "--name", "compose test")  # fmt: skip
    key = created.strip().splitlines()[-1]
    async with aiohttp.ClientSession() as http:
        api = ApiClient(http, "http://127.0.0.1:8081", key=key)
        mock = MockClient(http, "http://127.0.0.1:8090")
        await mock.configure(failureRate=0.1)
        started = time.monotonic()
        campaign = await api.create_campaign(
            name="compose", phoneNumbers=NUMBERS, concurrencyLimit=3,
            retryConfig={"maxRetries": 2, "callbackRetryDelayMs": 200},
        )  # fmt: skip
        await api.action(campaign["id"], "start")
        done = await finished(api, campaign["id"], timeout=120)
        figures["a campaign of 30 numbers (s)"] = time.monotonic() - started

        assert done["status"] == "COMPLETED"
        calls = await api.calls(campaign["id"])
        assert len(calls) == len(NUMBERS)
        assert {call["status"] for call in calls} <= FINAL_CALL_STATUSES
        stats = await mock.stats()
        assert stats["campaigns"][campaign["id"]]["maxLive"] <= 3
        placed = placed_per_number(await mock.calls(campaignId=campaign["id"]))
        assert set(placed) == set(NUMBERS)
        assert max(placed.values()) <= 3

        # The console's nginx serves the console and passes /api/ to the api container.
        console = ApiClient(http, "http://127.0.0.1:3000", key=key)
        page = await console.request("GET", "/")
        assert page.status == 200 and "<div id=" in page.body
        through = await console.request("GET", f"/api/v1/campaigns/{campaign['id']}")
        assert through.status == 200 and through.body["status"] == "COMPLETED"

    # Both worker replicas still healthy, each on its own health port.
    for worker in ("worker", "worker-2"):
        assert await running.healthy(worker)


async def test_every_health_check_fails_when_its_service_stops(
    stack: tuple[ComposeStack, dict[str, float]],
) -> None:
    """A health check that cannot fail checks nothing: stop the carrier, its check says so."""
    running, _ = stack
    await running.compose("stop", "-t", "5", "telephony_mock")
    assert not await running.healthy("telephony_mock")
    await running.compose("start", "telephony_mock")

    async def healthy_again() -> bool:
        return await running.healthy("telephony_mock")

    await wait_until(healthy_again, timeout=60, interval=1, message="the carrier healthy again")
