"""The fault suite's fast subset, run by `make test`: one SIGKILL of each kind of process on a
small workload, with every invariant the long scenarios check."""

from __future__ import annotations

import pytest

from tests.faults.harness import CampaignSpec, Workload, fault_run

pytestmark = pytest.mark.asyncio(loop_scope="session")

SMALL = Workload(campaigns=(CampaignSpec(300, 5), CampaignSpec(600, 20)))


async def test_one_kill_of_each_kind_of_process(tmp_path_factory: pytest.TempPathFactory) -> None:
    async with fault_run("one-of-each", tmp_path_factory, workload=SMALL) as run:
        await run.create_and_start()
        for name in ("worker-1", "dispatcher-a", "api"):
            await run.dialled_at_least(0.1 + 0.15 * len(run.fault_times))
            killed = run.stack.kill(name)
            run.fault()
            await run.stack.start_again(killed)
        await run.dialled_at_least(0.6)
        carrier = await run.kill_carrier()
        run.fault()
        await run.restart_carrier(carrier)
        await run.verify(await run.wait_finished())
