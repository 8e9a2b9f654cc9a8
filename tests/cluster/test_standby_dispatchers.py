"""Two dispatchers, one active: the active one SIGKILLed mid-campaign, then its lock's
connection cut under a live process. A sampler reads both /health roles every 20 ms the whole
time: never two "active" in one sample; the standby takes over within the retry interval plus
the lock's release; the campaigns finish and the carrier's counts hold (FaultRun.verify)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import aiohttp
import pytest

from services.dispatcher.leadership import LOCK_KEY
from tests.faults.harness import FaultRun, fault_run
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.asyncio(loop_scope="session")]

RETRY_INTERVAL_MS = 500
#: A takeover may take the retry interval, the lock's release (the server noticing the
#: connection's end) and a loaded machine's scheduling on top.
TAKEOVER_WITHIN_S = RETRY_INTERVAL_MS / 1000 + 5.0
SAMPLE_EVERY_S = 0.02


@dataclass
class RoleSampler:
    """Both dispatchers' roles, sampled together, with when."""

    urls: dict[str, str]
    samples: list[tuple[float, dict[str, str]]] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def _role(self, http: aiohttp.ClientSession, url: str) -> str:
        try:
            async with http.get(f"{url}/health", timeout=aiohttp.ClientTimeout(1)) as response:
                body = await response.json()
                role: str = body["components"]["dispatcher"]["role"]
                return role
        except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, TypeError):
            # Not answering, or answering without a role (a session starting): not active.
            return "down"

    async def run(self) -> None:
        async with aiohttp.ClientSession() as http:
            while not self.stop.is_set():
                names = list(self.urls)
                roles = await asyncio.gather(*(self._role(http, self.urls[n]) for n in names))
                self.samples.append((time.monotonic(), dict(zip(names, roles, strict=True))))
                await asyncio.sleep(SAMPLE_EVERY_S)  # the sampler's pace

    task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.run())

    def task_failed(self) -> bool:
        return self.task is not None and self.task.done()

    async def finish(self) -> None:
        self.stop.set()
        if self.task is not None:
            await self.task

    def active_since(self, since: float, holder: str | None = None) -> tuple[str, float] | None:
        """The first dispatcher active in a sample after `since` (once `holder`, the one that
        held the lock, has been seen not active), and how long after `since`."""
        stepped_down = holder is None
        for at, roles in self.samples:
            if at < since:
                continue
            stepped_down = stepped_down or roles.get(holder or "") != "active"
            active = [n for n, r in roles.items() if r == "active"]
            if stepped_down and active:
                return active[0], at - since
        return None

    def changes(self, since: float) -> list[tuple[float, dict[str, str]]]:
        """The samples after `since` whose roles differ from the sample before (for a
        failure's message)."""
        changed: list[tuple[float, dict[str, str]]] = []
        for at, roles in self.samples:
            if at >= since and (not changed or changed[-1][1] != roles):
                changed.append((round(at - since, 3), roles))
        return changed

    def overlaps(self) -> list[tuple[float, dict[str, str]]]:
        return [(at, r) for at, r in self.samples if list(r.values()).count("active") > 1]


async def active_one(
    sampler: RoleSampler, since: float, holder: str | None = None
) -> tuple[str, float]:
    async def found() -> tuple[str, float] | None:
        assert not sampler.task_failed(), "the sampler stopped"
        return sampler.active_since(since, holder)

    try:
        return await wait_until(found, timeout=30, interval=0.05, message="an active dispatcher")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; roles since: {sampler.changes(since)[:20]}") from None


async def cut_lock_connection(run: FaultRun) -> int:
    """pg_terminate_backend on the connection that holds the leader's advisory lock (its
    process lives on and must step down); returns that backend's pid."""
    pid: int = await run.db.fetchval(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND classid = $1 AND objid = $2 AND database = ("
        "   SELECT oid FROM pg_database WHERE datname = current_database())",
        LOCK_KEY >> 32,
        LOCK_KEY & 0xFFFF_FFFF,
    )
    assert pid is not None, "nobody holds the leader's lock"
    assert await run.db.fetchval("SELECT pg_terminate_backend($1)", pid)
    return pid


async def test_the_standby_takes_over_and_two_are_never_active(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    settings = {"VCS_LEADER_RETRY_INTERVAL_MS": str(RETRY_INTERVAL_MS)}
    async with fault_run(
        "dispatcher-takeover", tmp_path_factory, dispatchers=2, settings=settings
    ) as run:
        sampler = RoleSampler({n: run.stack.url(n) for n in run.dispatcher_names()})
        sampler.start()
        try:
            await run.create_and_start()
            await run.dialled_at_least(0.1)
            victim, _ = await active_one(sampler, 0.0)
            killed_at = time.monotonic()
            run.stack.kill(victim)
            run.fault()
            heir, after_kill = await active_one(sampler, killed_at, victim)
            assert heir != victim
            await run.start_dispatcher(victim)  # back, as the standby, on a port of its own
            sampler.urls[victim] = run.stack.url(victim)
            await run.dialled_at_least(0.5)
            cut_at = time.monotonic()
            await cut_lock_connection(run)
            run.fault()
            # Whoever holds it next (the standby, or the same process again): someone does,
            # after the one that held it has stepped down.
            _, after_cut = await active_one(sampler, cut_at, heir)
            run.notes.append(
                f"standby active {after_kill:.2f} s after the active one's SIGKILL; a"
                f" dispatcher active {after_cut:.2f} s after the lock's connection was cut"
                f" (retry interval {RETRY_INTERVAL_MS} ms); {len(sampler.samples)} samples of"
                " both roles, never two active"
            )
            await run.verify(await run.wait_finished())
        finally:
            await sampler.finish()
        assert not sampler.overlaps(), f"two active dispatchers: {sampler.overlaps()[:3]}"
        assert after_kill <= TAKEOVER_WITHIN_S, f"takeover took {after_kill:.2f} s"
        assert after_cut <= TAKEOVER_WITHIN_S, f"takeover took {after_cut:.2f} s"
