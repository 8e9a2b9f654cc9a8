"""`make soak`: a mixed workload for a long while (30 minutes unless told), a worker SIGKILLed
every few minutes, and what every part holds sampled each minute. Once warm, everything that
should stay flat must: process memory and open files, broker connections, channels and
queues, database connections, and the tables that hold no history.

    python -m tests.faults.soak --minutes 30 [--kill-every 180] [--report test-artifacts/soak.md]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.faults.harness import CampaignSpec, FaultRun, Workload, process_use
from tests.support.numbers import fresh_numbers

#: Once warm (after the first WARM_MINUTES), a sample may be this far above the warm one.
WARM_MINUTES = 5
RSS_FLAT_MB = 40.0
FD_FLAT = 16
CONNECTIONS_FLAT = 4
#: Tables that keep no history: they must not grow with the calls made.
BOUNDED_TABLES = ("workers", "queue_removals", "recounts_due", "line_slots", "dead_letters")


@dataclass
class Sample:
    minute: int
    rss_mb: dict[str, float]
    open_files: dict[str, int]
    broker: dict[str, int]
    database_connections: int
    table_rows: dict[str, int]
    calls: int
    running_campaigns: int


@dataclass
class Soak:
    run: FaultRun
    rng: random.Random = field(default_factory=lambda: random.Random(30))
    samples: list[Sample] = field(default_factory=list)
    kills: int = 0
    created: int = 0

    async def sample(self, minute: int) -> Sample:
        run = self.run
        uses = {n: process_use(s.process.pid) for n, s in run.stack.services.items()}
        state = await run.management.state()
        rows = {
            t: int(await run.db.fetchval(f"SELECT count(*) FROM {t}"))  # names from a constant
            for t in BOUNDED_TABLES
        }
        sample = Sample(
            minute,
            {n: round(u.rss_mb, 1) for n, u in uses.items()},
            {n: u.open_files for n, u in uses.items()},
            {
                "connections": state.connections,
                "channels": state.channels,
                "queues": len(state.queues),
                "consumers": state.consumers,
            },
            int(
                await run.db.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                )
            ),
            rows,
            int(await run.db.fetchval("SELECT count(*) FROM calls")),
            int(
                await run.db.fetchval("SELECT count(*) FROM campaigns WHERE status = 'IN_PROGRESS'")
            ),
        )
        self.samples.append(sample)
        print(
            f"minute {minute}: calls {sample.calls}, running {sample.running_campaigns},"
            f" broker {sample.broker}, db connections {sample.database_connections},"
            f" rss {sample.rss_mb}",
            flush=True,
        )
        return sample

    async def customers(self, until: float) -> None:
        """Campaigns created, paused, resumed, cancelled; numbers imported; single calls."""
        api = self.run.api
        while time.monotonic() < until:
            size = self.rng.choice([50, 200, 500])
            campaign = await api.create_campaign(
                name=f"soak {self.created}",
                phoneNumbers=fresh_numbers(size),
                concurrencyLimit=self.rng.choice([3, 10, 20]),
                retryConfig={
                    "maxRetries": 2,
                    "callbackTimeoutMs": 4000,
                    "callbackRetryDelayMs": 500,
                },
            )
            self.created += 1
            await api.action(campaign["id"], "start")
            roll = self.rng.random()
            if roll < 0.2:
                await asyncio.sleep(2)  # the customer's own pace
                await api.action(campaign["id"], "pause")
                await asyncio.sleep(2)
                await api.action(campaign["id"], "resume")
            elif roll < 0.3:
                await asyncio.sleep(2)
                await api.action(campaign["id"], "cancel")
            elif roll < 0.5:
                await api.request(
                    "POST",
                    f"/api/v1/campaigns/{campaign['id']}/import/batch",
                    json={"phoneNumbers": fresh_numbers(100)},
                )
            for number in fresh_numbers(self.rng.randint(0, 3)):
                await api.request("POST", "/api/v1/calls", json={"phoneNumber": number})
            await asyncio.sleep(self.rng.uniform(5, 15))  # between customers

    async def killer(self, until: float, every_s: float) -> None:
        run = self.run
        while time.monotonic() + every_s < until:
            await asyncio.sleep(every_s)  # the faults' own schedule
            victim = self.rng.choice(run.worker_names())
            run.stack.kill(victim)
            run.fault()
            self.kills += 1
            await run.start_worker(victim)

    def check_flat(self) -> list[str]:
        """What grew past its bound once warm (empty: all flat)."""
        warm = [s for s in self.samples if s.minute >= WARM_MINUTES]
        if len(warm) < 2:
            return []
        first, problems = warm[0], []
        for sample in warm[1:]:
            for name, rss in sample.rss_mb.items():
                base = first.rss_mb.get(name)
                if base is not None and name != "telephony_mock" and rss - base > RSS_FLAT_MB:
                    problems.append(f"minute {sample.minute}: {name} RSS {base} -> {rss} MB")
            for name, files in sample.open_files.items():
                base_files = first.open_files.get(name)
                if base_files is not None and files - base_files > FD_FLAT:
                    problems.append(f"minute {sample.minute}: {name} files {base_files} -> {files}")
            if sample.broker["connections"] - first.broker["connections"] > CONNECTIONS_FLAT:
                problems.append(f"minute {sample.minute}: broker connections {sample.broker}")
            extra = sample.database_connections - first.database_connections
            if extra > CONNECTIONS_FLAT * 5:
                problems.append(f"minute {sample.minute}: {sample.database_connections} db conns")
            for table in ("workers", "queue_removals", "recounts_due", "line_slots"):
                if sample.table_rows[table] > max(first.table_rows[table], 16):
                    problems.append(f"minute {sample.minute}: {table} {sample.table_rows[table]}")
        return problems

    def report(self, minutes: int, problems: list[str]) -> str:
        lines = [
            f"Soak: {minutes} minutes, {self.created} campaigns created, {self.kills} worker"
            f" SIGKILLs, {self.samples[-1].calls:,} calls at the end.",
            "",
            "| Minute | Calls | Running | Broker conns / channels / queues / consumers"
            " | DB conns | Largest RSS (MB) | Most open files | workers / queue_removals"
            " / recounts_due rows |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for s in self.samples:
            rss = max((v for k, v in s.rss_mb.items() if k != "telephony_mock"), default=0)
            lines.append(
                f"| {s.minute} | {s.calls:,} | {s.running_campaigns} | {s.broker['connections']}"
                f" / {s.broker['channels']} / {s.broker['queues']} / {s.broker['consumers']}"
                f" | {s.database_connections} | {rss} | {max(s.open_files.values())}"
                f" | {s.table_rows['workers']} / {s.table_rows['queue_removals']}"
                f" / {s.table_rows['recounts_due']} |"
            )
        lines += [
            "",
            f"Bounds once warm (from minute {WARM_MINUTES}): RSS +{RSS_FLAT_MB:.0f} MB per process"
            f" (the mock carrier records every dial and is left out), open files +{FD_FLAT},"
            f" broker connections +{CONNECTIONS_FLAT}, tables without history flat.",
            "Result: " + ("flat" if not problems else "NOT flat: " + "; ".join(problems[:10])),
        ]
        return "\n".join(lines)


async def soak(minutes: int, kill_every_s: float, report_path: Path) -> int:
    log_dir = Path(tempfile.mkdtemp(prefix="vcs-soak-"))
    workload = Workload(campaigns=(CampaignSpec(200, 10),))
    async with FaultRun("soak", log_dir, workload=workload) as run:
        state = Soak(run)
        until = time.monotonic() + minutes * 60
        customers = asyncio.create_task(state.customers(until))
        killer = asyncio.create_task(state.killer(until, kill_every_s))
        for minute in range(minutes + 1):
            await state.sample(minute)
            if minute < minutes:
                await asyncio.sleep(60)  # one sample a minute
        customers.cancel()
        killer.cancel()
        await asyncio.gather(customers, killer, return_exceptions=True)
        problems = state.check_flat()
        text = state.report(minutes, problems)
    _write(report_path, text)
    print(text)
    print(f"\nmedian calls a minute: {_median_rate(state.samples):,.0f}; logs in {log_dir}")
    return 0 if not problems else 1


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")


def _median_rate(samples: list[Sample]) -> float:
    rates = [b.calls - a.calls for a, b in itertools.pairwise(samples)]
    return statistics.median(rates) if rates else 0.0


def main(argv: list[str] | None = None) -> Any:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--kill-every", type=float, default=180.0, help="seconds")
    parser.add_argument("--report", type=Path, default=Path("test-artifacts/soak.md"))
    args = parser.parse_args(argv)
    raise SystemExit(asyncio.run(soak(args.minutes, args.kill_every, args.report)))


if __name__ == "__main__":
    main()
