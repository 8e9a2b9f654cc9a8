"""A three-node RabbitMQ cluster of the test's own, with VCS_QUEUE_TYPE=quorum and
VCS_AMQP_URL naming all three nodes (the machine's broker on 5672 stays untouched).

The node that leads a campaign's job queue is SIGKILLed mid-campaign (its machine died): the
queue's other replicas elect a leader, every process that was connected to the dead node
connects to another, dialling goes on while the node is down; then the node comes back. And
the whole cluster stopped and started again mid-campaign. Counted at the carrier
(FaultRun.verify): nothing lost, no number dialled twice at once, every cap held, the
campaigns finish unaided, the broker back as it was."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote
from uuid import UUID

import aiohttp
import pytest
import pytest_asyncio

from shared.topology import campaign_queue
from tests.faults.harness import FaultRun, Prober, fault_run
from tests.faults.test_restarts import every_health_check_says, resumed_after
from tests.support.infra import create_quorum_infra
from tests.support.own_rabbitmq import OwnRabbitCluster, own_rabbit_cluster
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.asyncio(loop_scope="session")]

#: Dialling must go on this soon after a node is lost (a new queue leader, reconnections).
RESUME_WITHIN_S = 20.0


@pytest_asyncio.fixture(loop_scope="session")
async def cluster(base: Path) -> AsyncIterator[OwnRabbitCluster]:
    async with own_rabbit_cluster("quorum", base, 3) as running:
        yield running


async def queue_leader(run: FaultRun, management_url: str, queue: str) -> str:
    """The node that leads a quorum queue, by its node name."""
    vhost = quote(run.stack.infra.vhost, safe="")
    headers = {"Authorization": aiohttp.encode_basic_auth("guest", "guest")}
    url = f"{management_url}/api/queues/{vhost}/{quote(queue, safe='')}"

    async def leader() -> str | None:
        async with run.http.get(url, headers=headers) as response:
            if response.status != 200:
                return None
            body = await response.json()
            assert body["type"] == "quorum", body
            found: str | None = body.get("leader")
            return found

    return await wait_until(leader, timeout=30, message=f"a leader for {queue}")


async def test_the_node_leading_a_campaigns_queue_is_killed_mid_campaign(
    tmp_path_factory: pytest.TempPathFactory, cluster: OwnRabbitCluster
) -> None:
    infra = await create_quorum_infra("vcs_qq_kill", cluster)
    async with fault_run(
        "quorum-leader-killed", tmp_path_factory, infra=infra, management_url=infra.management_url
    ) as run:
        await run.create_and_start()
        await run.dialled_at_least(0.2)
        # The largest campaign's queue: its leader's death matters most.
        queue = campaign_queue(UUID(run.campaigns[-1]["id"]))
        leader = await queue_leader(run, infra.management_url, queue)
        victim = next(node for node in cluster.nodes if node.nodename == leader)
        with Prober(run) as prober:
            victim.kill()
            run.fault()
            lost_at = datetime.now(UTC)
            resumed = await resumed_after(run, lost_at, timeout=60)
            # A live node's view: the queue has a new leader among the two left.
            witness = next(node for node in cluster.nodes if node is not victim)
            new_leader = await queue_leader(run, witness.management_url, queue)
            assert new_leader != leader
            await victim.restart_after_kill()
            run.fault()
        await prober.finished()
        run.notes.append(
            f"killed {victim.name} (leader of {queue}); dialling went on {resumed:.1f} s after;"
            f" new leader {new_leader.split('@')[0]}; api answers: {dict(prober.answers)}"
        )
        assert resumed <= RESUME_WITHIN_S, f"dialling resumed {resumed:.1f} s after the kill"
        await every_health_check_says(run, 200)
        await run.verify(await run.wait_finished())


async def test_the_whole_cluster_restarts_mid_campaign(
    tmp_path_factory: pytest.TempPathFactory, cluster: OwnRabbitCluster
) -> None:
    infra = await create_quorum_infra("vcs_qq_restart", cluster)
    async with fault_run(
        "quorum-cluster-restart",
        tmp_path_factory,
        infra=infra,
        management_url=infra.management_url,
    ) as run:
        await run.create_and_start()
        await run.dialled_at_least(0.2)
        with Prober(run) as prober:
            stopping = time.monotonic()
            await cluster.stop()
            run.fault()
            await every_health_check_says(run, 503)
            # Started together: a clustered node that boots waits for its peers.
            await asyncio.gather(*(node.start() for node in cluster.nodes))
            restarted_in = time.monotonic() - stopping
            run.outage_lasted(restarted_in)
        await prober.finished()
        back_at = datetime.now(UTC)
        run.fault()
        resumed = await resumed_after(run, back_at, timeout=60)
        await every_health_check_says(run, 200)
        run.notes.append(
            f"cluster stopped and started in {restarted_in:.0f} s; dialling resumed"
            f" {resumed:.1f} s after; api answers: {dict(prober.answers)}"
        )
        assert resumed <= RESUME_WITHIN_S, f"dialling resumed {resumed:.1f} s after"
        await run.verify(await run.wait_finished())
