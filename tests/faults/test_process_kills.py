"""SIGKILL of every kind of process mid-campaign: nothing lost, nothing dialled twice."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import Counter
from typing import Any
from uuid import UUID, uuid4

import aiohttp
import pytest

from tests.faults.harness import FaultRun, fault_run
from tests.support.numbers import fresh_numbers

pytestmark = [pytest.mark.faults, pytest.mark.asyncio(loop_scope="session")]


async def test_twenty_worker_kills(tmp_path_factory: pytest.TempPathFactory) -> None:
    async with fault_run("worker-kills", tmp_path_factory, workers=3) as run:
        await run.create_and_start()
        await run.dialled_at_least(0.05)
        rng = random.Random(20)
        for _ in range(20):
            victim = rng.choice(run.worker_names())
            run.stack.kill(victim)
            run.fault()
            await run.start_worker(victim)
            await asyncio.sleep(0.5)  # the faults' own pace
        await run.verify(await run.wait_finished())


async def active_dispatcher(run: FaultRun) -> str:
    async with aiohttp.ClientSession() as http:
        for name in run.dispatcher_names():
            if name not in run.stack.services:
                continue
            async with http.get(f"{run.stack.url(name)}/health") as response:
                body = await response.json()
                if body["components"]["dispatcher"]["role"] == "active":
                    return name
    raise AssertionError("no active dispatcher")


async def test_five_kills_of_the_active_dispatcher_with_a_standby(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    async with fault_run("dispatcher-standby", tmp_path_factory, dispatchers=2) as run:
        await run.create_and_start()
        await run.dialled_at_least(0.05)
        for _ in range(5):
            victim = await active_dispatcher(run)
            run.stack.kill(victim)
            run.fault()
            await run.start_dispatcher(victim)  # comes back as the standby
            await asyncio.sleep(2)  # the faults' own pace
        await run.verify(await run.wait_finished())


async def test_dispatcher_kills_without_a_standby(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    async with fault_run("dispatcher-alone", tmp_path_factory, dispatchers=1) as run:
        await run.create_and_start()
        await run.dialled_at_least(0.05)
        for _ in range(3):
            run.stack.kill("dispatcher-a")
            run.fault()
            await asyncio.sleep(1)  # dead for a while, as a crashed process is
            await run.start_dispatcher("dispatcher-a")
            await asyncio.sleep(3)
        await run.verify(await run.wait_finished())


class Clients:
    """Customers creating campaigns and importing numbers while the api dies under them.
    Each request carries an Idempotency-Key and is sent again with it until it is answered;
    every fifth is abandoned after its first failure, as an impatient client would."""

    def __init__(self, run: FaultRun, target_campaign: str) -> None:
        self.run = run
        self.target = target_campaign
        self.acknowledged: dict[str, list[str]] = {}
        self.abandoned: dict[str, list[str]] = {}
        self.imported: list[str] = []
        self.answers: Counter[int] = Counter()
        self.stop = asyncio.Event()

    async def _send(self, method: str, path: str, body: dict[str, Any], patient: bool) -> bool:
        key = str(uuid4())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                response = await self.run.api.request(
                    method, path, json=body, headers={"Idempotency-Key": key}
                )
            except aiohttp.ClientError:
                status = 0
            else:
                status = response.status
            self.answers[status] += 1
            if 200 <= status < 300:
                return True
            assert status in (0, 503), f"{path} answered {status}: {response.body}"
            if not patient:
                return False
            await asyncio.sleep(0.2)  # a client's pause before trying again
        raise AssertionError(f"{path} never answered")

    async def work(self) -> None:
        for index in itertools.count():
            if self.stop.is_set():
                return
            patient = index % 5 != 0
            numbers = fresh_numbers(20)
            name = f"client campaign {uuid4()}"
            created = await self._send(
                "POST", "/api/v1/campaigns", {"name": name, "phoneNumbers": numbers}, patient
            )
            (self.acknowledged if created else self.abandoned)[name] = numbers
            batch = fresh_numbers(50)
            path = f"/api/v1/campaigns/{self.target}/import/batch"
            if await self._send("POST", path, {"phoneNumbers": batch}, patient=True):
                self.imported.extend(batch)

    async def check(self) -> None:
        rows = await self.run.db.fetch(
            "SELECT k.name, array_agg(c.phone_number) AS numbers FROM campaigns k"
            " LEFT JOIN calls c ON c.campaign_id = k.id"
            " WHERE k.name LIKE 'client campaign %' GROUP BY k.id, k.name"
        )
        found = Counter(r["name"] for r in rows)
        assert all(n == 1 for n in found.values()), "a retried create made two campaigns"
        numbers_of = {r["name"]: sorted(r["numbers"]) for r in rows}
        for name, numbers in self.acknowledged.items():
            assert numbers_of.get(name) == sorted(numbers), f"{name} is missing or partial"
        for name, numbers in self.abandoned.items():
            # Either the request took effect before the kill, whole, or not at all.
            assert numbers_of.get(name, sorted(numbers)) == sorted(numbers), f"{name} is partial"
        target = await self.run.db.fetch(
            "SELECT phone_number FROM calls WHERE campaign_id = $1", UUID(self.target)
        )
        present = {r["phone_number"] for r in target}
        missing = set(self.imported) - present
        assert not missing, f"{len(missing)} acknowledged imports are missing"


async def test_api_kills_while_clients_create_and_import(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # The Twilio path: results reach the api as signed callbacks, so the kills cut those too.
    async with fault_run("api-kills", tmp_path_factory, provider="twilio") as run:
        await run.create_and_start()
        target = await run.api.create_campaign(name="client imports", phoneNumbers=[])
        clients = Clients(run, target["id"])
        working = asyncio.create_task(clients.work())
        await run.dialled_at_least(0.05)
        for _ in range(5):
            await asyncio.sleep(2)  # the faults' own pace
            killed = run.stack.kill("api")
            run.fault()
            await run.stack.start_again(killed)
        clients.stop.set()
        await working
        await clients.check()
        assert len(clients.acknowledged) > 10 and len(clients.imported) > 500
        run.notes.append(
            f"clients: {len(clients.acknowledged)} campaigns and {len(clients.imported)}"
            f" imported numbers acknowledged, {len(clients.abandoned)} abandoned;"
            f" answers by status {dict(clients.answers)}"
        )
        await run.verify(await run.wait_finished())
