"""The api's number-validation processes end when the api is killed outright: a process that
made a ValidationPool and used it is SIGKILLed, and its pool's processes (found by their
parent in /proc) are gone soon after. Before, the fault suite left them behind for ever."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from services.api.operations.validation_pool import PARENT_CHECK_S
from tests.support.own_processes import is_alive
from tests.support.waiting import wait_until

pytestmark = pytest.mark.asyncio(loop_scope="session")

ROOT = Path(__file__).resolve().parents[2]

#: Stands in for the api: makes the pool, validates a chunk in it, then waits to be killed.
API_LIKE = """
import os, sys, time
from pathlib import Path
from services.api.operations.validation_pool import ValidationPool
pool = ValidationPool(2)
Path(sys.argv[1]).write_text(str(pool.executor().submit(os.getpid).result()))
time.sleep(600)
"""


def children_of(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The fields after the command's closing parenthesis: state, then the parent's pid.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.add(int(entry.name))
    return found


async def test_the_pool_processes_exit_when_the_api_is_killed(tmp_path: Path) -> None:
    told = tmp_path / "worker.pid"
    parent = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        API_LIKE,
        str(told),
        cwd=ROOT,
        # Not a pipe: the pool's processes would inherit it, and a wait for its end would
        # hang as long as they live.
        stdout=asyncio.subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:

        async def worker_told() -> int | None:
            text = told.read_text() if told.exists() else ""
            return int(text) if text else None

        worker = await wait_until(worker_told, timeout=60, message="a pool process at work")
        pool = children_of(parent.pid)
        assert worker in pool, (worker, pool)
    finally:
        parent.send_signal(signal.SIGKILL)
        await parent.wait()

    async def all_gone() -> bool:
        return not any(is_alive(pid) for pid in pool)

    try:
        await wait_until(
            all_gone, timeout=10 * PARENT_CHECK_S + 5, message="the pool's processes exited"
        )
    finally:
        for pid in pool:
            if is_alive(pid):
                os.kill(pid, signal.SIGKILL)  # ours: the test's own child's children
