"""The fault-injection harness: a stack of real processes, a workload of campaigns, faults
while it runs, and every invariant checked afterwards, counted at the mock carrier.

A scenario enters `FaultRun`, creates and starts its campaigns, injects its faults (noting
each with `fault()`), waits for the campaigns to finish, and calls `verify()`, which asserts
the invariants of ../shared/DESIGN.md that faults threaten and returns the figures for the
report (docs/reliability.md):

- every number final; none dialled more than maxRetries + 1 times; never two live calls for
  one number; each campaign's peak of live calls at the carrier within its limit;
- the campaigns finish unaided within FINISH_WITHIN_S of the last fault;
- no service restarts its session in a loop (at most SESSION_RESTARTS_PER_FAULT a fault);
- afterwards the broker holds what it held before (queues, consumers, channels,
  connections), and every process's RSS and open files are back within RSS_BOUND /
  FD_BOUND of what they were once warm.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import os
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import asyncpg

from shared.db.pool import init_connection
from shared.runtime import LONGEST_RESTART_PAUSE_S
from shared.signatures import sign
from tests.support.api_client import TEST_API_KEY, TEST_CALLBACK_SECRET, ApiClient, MockClient
from tests.support.infra import MANAGEMENT_URL, Infra, create_infra, destroy_infra
from tests.support.numbers import fresh_numbers
from tests.support.stack import Service, Stack
from tests.support.waiting import wait_until

#: Campaigns must finish this soon after the last fault (the longest callback timeout plus a
#: full pass over what is left).
FINISH_WITHIN_S = 150.0
#: A process may grow this much over its warm size, and hold this many more open files.
RSS_BOUND_MB = 40.0
RSS_BOUND_SHARE = 0.35
FD_BOUND = 12
SESSION_RESTARTS_PER_FAULT = 6

FINAL = ("COMPLETED", "PERMANENTLY_FAILED", "CANCELLED")


@dataclass(frozen=True)
class CampaignSpec:
    numbers: int
    limit: int


@dataclass(frozen=True)
class Workload:
    campaigns: tuple[CampaignSpec, ...] = (
        CampaignSpec(500, 5),
        CampaignSpec(1200, 20),
        CampaignSpec(2400, 50),
    )
    max_retries: int = 3
    #: Short, so that lost callbacks and calls cut off by a fault end (and are retried) soon.
    callback_timeout_ms: int = 4000
    callback_retry_delay_ms: int = 300


#: Failures, lost, late, duplicated and reordered results: what every scenario's carrier does.
CARRIER_TROUBLE: dict[str, Any] = {
    "delayMinMs": 50,
    "delayMaxMs": 300,
    "failureRate": 0.08,
    "noCallbackRate": 0.02,
    "syncErrorRate": 0.01,
    "duplicateCallbackRate": 0.05,
    # On the Twilio path: the final status before "ringing" and "in-progress".
    "outOfOrderCallbackRate": 0.05,
    "lateCallbackRate": 0.01,
    "lateCallbackDelayMs": 6000,
}

FAST_TICKS = {
    "VCS_API_KEYS": TEST_API_KEY,
    "VCS_CALLBACK_SECRET": TEST_CALLBACK_SECRET,
    "VCS_DISPATCH_INTERVAL_MS": "100",
    "VCS_HELD_ATTEMPT_CHECK_INTERVAL_MS": "500",
    "VCS_CAMPAIGN_REFRESH_INTERVAL_MS": "500",
    "VCS_BREAKER_RESET_TIMEOUT_MS": "1000",
    "VCS_MAX_CONCURRENT_CALLS": "200",
    "VCS_LOG_LEVEL": "INFO",
    # Off: an overloaded test machine must not fail requests for pace.
    "VCS_RATE_LIMIT_PER_SECOND": "100000",
    "VCS_RATE_LIMIT_BURST": "100000",
}


@dataclass
class ProcessUse:
    rss_mb: float
    open_files: int


def process_use(pid: int) -> ProcessUse:
    rss_kb = 0
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
    return ProcessUse(rss_kb / 1024, len(os.listdir(f"/proc/{pid}/fd")))


@dataclass(frozen=True)
class BrokerState:
    queues: frozenset[str]
    consumers: int
    channels: int
    connections: int
    #: Channels by the name each service gives its connection, to tell whose differ.
    channels_by_connection: tuple[tuple[str, int], ...] = ()
    #: Consumers by queue, to tell which queue holds one too many.
    consumers_by_queue: tuple[tuple[str, int], ...] = ()

    def describe(self) -> str:
        return (
            f"{len(self.queues)} queues, {self.consumers} consumers,"
            f" {self.channels} channels, {self.connections} connections"
        )


class Management:
    """The RabbitMQ management API, for what the broker holds in one vhost."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str, vhost: str) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._vhost = quote(vhost, safe="")

    async def _get(self, path: str) -> list[dict[str, Any]]:
        headers = {"Authorization": aiohttp.encode_basic_auth("guest", "guest")}
        async with self._http.get(f"{self._base}/api{path}", headers=headers) as response:
            response.raise_for_status()
            body: list[dict[str, Any]] = await response.json()
            return body

    async def connections(self) -> list[dict[str, Any]]:
        return await self._get(f"/vhosts/{self._vhost}/connections")

    async def state(self) -> BrokerState:
        queues = await self._get(f"/queues/{self._vhost}?columns=name")
        consumers = await self._get(f"/consumers/{self._vhost}")
        channels = await self._get(f"/vhosts/{self._vhost}/channels")
        connections = await self._get(f"/vhosts/{self._vhost}/connections")
        named = {c["name"]: c.get("user_provided_name") or c["name"] for c in connections}
        per_connection = Counter(
            named.get(_field(c, "connection_details", "name"), "?") for c in channels
        )
        per_queue = Counter(_field(c, "queue", "name") for c in consumers)
        return BrokerState(
            frozenset(q["name"] for q in queues),
            len(consumers),
            len(channels),
            len(connections),
            tuple(sorted(per_connection.items())),
            tuple(sorted(per_queue.items())),
        )


def _field(item: dict[str, Any], part: str, name: str) -> str:
    # The management API gives an empty list, not an object, for details it has not
    # gathered yet (a channel that has just opened).
    details = item.get(part)
    return str(details.get(name, "?")) if isinstance(details, dict) else "?"


@dataclass
class Figures:
    """One scenario's row in the report."""

    scenario: str
    faults: int = 0
    numbers: int = 0
    dials: int = 0
    most_dials_per_number: int = 0
    peak_vs_limit: str = ""
    finished_after_last_fault_s: float = 0.0
    longest_dial_gap_s: float = 0.0
    rss_growth_mb: float = 0.0
    fd_growth: int = 0
    broker: str = ""
    notes: list[str] = field(default_factory=list)

    HEADER = (
        "| Scenario | Faults | Numbers | Dials | Most dials / number | Peak live / limit"
        " | Finished after last fault (s) | Longest gap between dials (s) | RSS growth (MB)"
        " | Open files growth | Broker after = before |"
    )

    def row(self) -> str:
        return (
            f"| {self.scenario} | {self.faults} | {self.numbers:,} | {self.dials:,}"
            f" | {self.most_dials_per_number} | {self.peak_vs_limit}"
            f" | {self.finished_after_last_fault_s:.1f} | {self.longest_dial_gap_s:.1f}"
            f" | {self.rss_growth_mb:+.1f} | {self.fd_growth:+d} | {self.broker} |"
        )


REPORT_PATH = Path(os.environ.get("VCS_FAULT_REPORT", "test-artifacts/faults.md"))


def record_figures(figures: Figures) -> None:
    """Print the row and append it to the run's report file."""
    REPORT_PATH.parent.mkdir(parents=True, exist_ok=True)
    new = not REPORT_PATH.exists()
    with REPORT_PATH.open("a") as report:
        if new:
            report.write(Figures.HEADER + "\n|" + "---|" * 11 + "\n")
        report.write(figures.row() + "\n")
        for note in figures.notes:
            report.write(f"<!-- {figures.scenario}: {note} -->\n")
    print("\n" + Figures.HEADER + "\n" + figures.row())
    for note in figures.notes:
        print(f"  {figures.scenario}: {note}")


class FaultRun:
    """A stack of its own (database and vhost, or brokers and databases a scenario brings),
    its campaigns, and the record of the faults injected."""

    def __init__(
        self,
        name: str,
        log_dir: Path,
        *,
        workers: int = 3,
        dispatchers: int = 1,
        provider: str = "mock",
        settings: dict[str, str] | None = None,
        infra: Infra | None = None,
        management_url: str = MANAGEMENT_URL,
        workload: Workload = Workload(),
    ) -> None:
        self.name = name
        self.workload = workload
        self.workers = workers
        self.dispatchers = dispatchers
        self.provider = provider
        self._settings = {**FAST_TICKS, **(settings or {})}
        self._given_infra = infra
        self._log_dir = log_dir
        self._management_url = management_url
        self.stack: Stack
        self.http: aiohttp.ClientSession
        self.db: asyncpg.Pool
        self.campaigns: list[dict[str, Any]] = []
        self.fault_times: list[float] = []
        #: Said in the report beside the figures.
        self.notes: list[str] = []
        #: What a scenario last read of the carrier's records, when it needs them.
        self.recent_dials: list[dict[str, Any]] = []
        #: The records of carriers killed during the run (a carrier forgets with its death).
        self.carrier_history: list[dict[str, Any]] = []
        self._warm_use: dict[str, ProcessUse] = {}
        self._warm_broker: BrokerState | None = None
        self._restarts_before: Counter[str] = Counter()
        #: Seconds the scenario kept a server away: sessions fail and start over all along.
        self._outage_s = 0.0

    # -- the stack ---------------------------------------------------------------------

    @property
    def api(self) -> ApiClient:
        return ApiClient(self.http, self.stack.url("api"))

    @property
    def mock(self) -> MockClient:
        return MockClient(self.http, self.stack.url("telephony_mock"))

    @property
    def management(self) -> Management:
        return Management(self.http, self._management_url, self.stack.infra.vhost)

    def worker_names(self) -> list[str]:
        return [f"worker-{n + 1}" for n in range(self.workers)]

    def dispatcher_names(self) -> list[str]:
        return [f"dispatcher-{chr(ord('a') + n)}" for n in range(self.dispatchers)]

    async def start_worker(self, name: str) -> Service:
        # A replacement keeps its name, as a StatefulSet's pod or a systemd unit would: it
        # takes over the same results queue, so the broker's state can be compared after.
        return await self.stack.start("worker", name, VCS_WORKER_ID=name)

    async def start_dispatcher(self, name: str) -> Service:
        return await self.stack.start("dispatcher", name)

    def _twilio_settings(self, stack: Stack) -> dict[str, str]:
        if self.provider != "twilio":
            return {}
        mock = stack.url("telephony_mock")
        return {
            "VCS_TELEPHONY_PROVIDER": "twilio",
            "VCS_TWILIO_BASE_URL": mock,
            "VCS_TWILIO_FROM": "+15005550006",
            "VCS_TWILIO_TWIML_URL": f"{mock}/mock/twiml",
            "VCS_PUBLIC_BASE_URL": stack.url("api"),
        }

    async def __aenter__(self) -> FaultRun:
        # A scenario on servers of its own brings an infra made there; it goes with the run.
        infra = self._given_infra or await create_infra(f"vcs_fault_{self.name[:12]}")
        settings = dict(self._settings)
        if self.provider == "twilio":
            settings["VCS_TWILIO_ACCOUNT_SID"] = "AC" + "0" * 29 + "flt"
            settings["VCS_TWILIO_AUTH_TOKEN"] = "fault-twilio-token"
        self.stack = Stack(infra, self._log_dir, settings)
        self.http = aiohttp.ClientSession()
        try:
            await self.stack.start("telephony_mock")
            await self.stack.start("api")
            self.stack.settings.update(self._twilio_settings(self.stack))
            for name in self.dispatcher_names():
                await self.start_dispatcher(name)
            for name in self.worker_names():
                await self.start_worker(name)
            pool = await asyncpg.create_pool(
                infra.database_url, min_size=1, max_size=4, init=init_connection
            )
            assert pool is not None
            self.db = pool
            await self.mock.configure(**CARRIER_TROUBLE)
            await self._warm_up()
        except BaseException:
            await self._close(failed=True)
            raise
        return self

    async def __aexit__(self, exc_type: object, *_: object) -> None:
        await self._close(failed=exc_type is not None)

    async def _close(self, *, failed: bool) -> None:
        if failed:
            print(f"\nservice logs in {self._log_dir}\n{self.stack.tails()}")
        await self.stack.stop_all()
        if hasattr(self, "db"):
            await self.db.close()
        await self.http.close()
        await destroy_infra(self.stack.infra)

    async def _warm_up(self) -> None:
        """One small campaign through the whole pipeline, then the sizes to compare with."""
        numbers = fresh_numbers(100)
        campaign = await self.api.create_campaign(
            name=f"{self.name} warm-up",
            phoneNumbers=numbers,
            concurrencyLimit=10,
            retryConfig={"maxRetries": 0, "callbackTimeoutMs": 3000},
        )
        await self.api.action(campaign["id"], "start")
        await self._wait_campaigns([campaign["id"]], timeout=60)
        await self._wait_queues_removed([campaign["id"]])
        # The api validates large lists in a process pool it starts at its first large list
        # (a dozen open files, a process per core): a list of three chunks brings every pool
        # process up now, so that what the scenarios measure is growth, not the pool starting.
        large = await self.api.create_campaign(
            name=f"{self.name} warm-up pool", phoneNumbers=fresh_numbers(15_000)
        )
        deleted = await self.api.request("DELETE", f"/api/v1/campaigns/{large['id']}")
        assert deleted.status == 204, deleted.body
        self._warm_broker = await self._settled_broker_state()
        self._warm_use = {
            name: process_use(service.process.pid) for name, service in self._processes().items()
        }
        self._restarts_before = self._session_restarts()

    async def _settled_broker_state(self) -> BrokerState:
        """The broker's state once the management API's view of it stops changing: it learns
        of new channels and connections a few seconds late."""
        readings: list[BrokerState] = []

        async def settled() -> BrokerState | None:
            readings.append(await self.management.state())
            return readings[-1] if readings[-3:] == [readings[-1]] * 3 else None

        return await wait_until(settled, timeout=30, interval=1, message="a settled broker")

    def _processes(self) -> dict[str, Service]:
        """The long-running processes whose resources are bounded (the mock records every
        dial it receives by design, so its memory grows with the calls: left out)."""
        return {n: s for n, s in self.stack.services.items() if s.module != "telephony_mock"}

    # -- the workload and the faults --------------------------------------------------

    async def create_and_start(self) -> list[dict[str, Any]]:
        w = self.workload
        for index, spec in enumerate(w.campaigns):
            campaign = await self.api.create_campaign(
                name=f"{self.name} {index}",
                phoneNumbers=fresh_numbers(spec.numbers),
                concurrencyLimit=spec.limit,
                retryConfig={
                    "maxRetries": w.max_retries,
                    "callbackTimeoutMs": w.callback_timeout_ms,
                    "callbackRetryDelayMs": w.callback_retry_delay_ms,
                },
            )
            self.campaigns.append(campaign)
        for campaign in self.campaigns:
            await self.api.action(campaign["id"], "start")
        return self.campaigns

    async def kill_carrier(self) -> Service:
        """SIGKILL the mock carrier, keeping what it had recorded: its live calls die with it,
        so they count as ended at the kill."""
        records = await self.mock.calls()
        killed = self.stack.kill("telephony_mock")
        now = datetime.now(UTC).isoformat()
        for record in records:
            if record["placed"] and not record["endedAt"]:
                record["endedAt"] = now
        self.carrier_history.extend(records)
        return killed

    async def restart_carrier(self, killed: Service) -> None:
        await self.stack.start_again(killed)
        await self.mock.configure(**CARRIER_TROUBLE)

    def fault(self) -> None:
        """Note that a fault has just been injected (or has just ended)."""
        self.fault_times.append(time.monotonic())

    async def dialled_at_least(self, share: float, timeout: float = 120) -> None:
        """Wait until this share of the workload's numbers has been dialled once or more."""
        total = sum(spec.numbers for spec in self.workload.campaigns)
        ids = [c["id"] for c in self.campaigns]

        async def enough() -> bool:
            dialled = await self.db.fetchval(
                "SELECT count(*) FROM calls WHERE campaign_id = ANY($1::uuid[]) AND dial_count > 0",
                ids,
            )
            return bool(dialled >= share * total)

        await wait_until(enough, timeout=timeout, interval=0.2, message=f"{share:.0%} dialled")

    async def wait_finished(self, timeout: float = FINISH_WITHIN_S) -> float:
        """Wait for every campaign to finish; seconds it took after the last fault."""
        await self._wait_campaigns([c["id"] for c in self.campaigns], timeout=timeout)
        last = self.fault_times[-1] if self.fault_times else time.monotonic()
        return time.monotonic() - last

    async def _wait_campaigns(self, ids: list[str], timeout: float) -> None:
        async def all_final() -> bool:
            done = await self.db.fetchval(
                "SELECT count(*) FROM campaigns WHERE id = ANY($1::uuid[])"
                " AND status IN ('COMPLETED', 'FAILED', 'CANCELLED')",
                ids,
            )
            return bool(done == len(ids))

        await wait_until(all_final, timeout=timeout, interval=0.5, message="campaigns to finish")

    async def _wait_queues_removed(self, ids: list[str], timeout: float = 30) -> None:
        async def removed() -> bool:
            left = await self.db.fetchval(
                "SELECT count(*) FROM campaigns WHERE id = ANY($1::uuid[])"
                " AND queue_removed_at IS NULL",
                ids,
            )
            return left == 0

        await wait_until(removed, timeout=timeout, message="campaign queues removed")

    def _session_restarts(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for path in self._log_dir.glob("*.log"):
            text = path.read_text(errors="replace")
            counts[path.stem] = text.count("session failed; starting over")
        return counts

    # -- the checks --------------------------------------------------------------------

    async def verify(self, finished_after_s: float) -> Figures:
        figures = Figures(self.name, faults=len(self.fault_times), notes=self.notes)
        ids = [c["id"] for c in self.campaigns]
        await self._check_final(ids, figures)
        await self._check_carrier(figures)
        assert finished_after_s <= FINISH_WITHIN_S, f"finished {finished_after_s:.0f} s late"
        figures.finished_after_last_fault_s = finished_after_s
        self._check_no_restart_loop()
        await self._wait_queues_removed(ids, timeout=60)
        await self._check_broker(figures)
        await self._check_resources(figures)
        record_figures(figures)
        return figures

    async def _check_final(self, ids: list[str], figures: Figures) -> None:
        rows = await self.db.fetch(
            "SELECT campaign_id, status, count(*) AS n, max(dial_count) AS most FROM calls"
            " WHERE campaign_id = ANY($1::uuid[]) GROUP BY campaign_id, status",
            ids,
        )
        open_calls = [r for r in rows if r["status"] not in FINAL]
        assert not open_calls, f"calls not final: {[dict(r) for r in open_calls]}"
        figures.numbers = sum(r["n"] for r in rows)
        assert figures.numbers == sum(s.numbers for s in self.workload.campaigns)
        most = max(r["most"] for r in rows)
        assert most <= self.workload.max_retries + 1, f"a number was dialled {most} times"

    async def _check_carrier(self, figures: Figures) -> None:
        limit_of = {c["id"]: c["concurrencyLimit"] for c in self.campaigns}
        records = self.carrier_history + await self.mock.calls()
        dials = [d for d in records if d["campaignId"] in limit_of]
        placed = [d for d in dials if d["placed"]]
        figures.dials = len(placed)
        per_number = Counter(d["phoneNumber"] for d in placed)
        figures.most_dials_per_number = max(per_number.values(), default=0)
        assert figures.most_dials_per_number <= self.workload.max_retries + 1
        assert_never_two_live_calls_per_number(placed)
        peaks = peak_live_calls(placed)
        # The carrier's own peaks, unless it was killed (a new one knows only its own calls).
        stats = {} if self.carrier_history else (await self.mock.stats())["campaigns"]
        parts = []
        for campaign_id, limit in limit_of.items():
            peak = max(peaks.get(campaign_id, 0), stats.get(campaign_id, {}).get("maxLive", 0))
            assert peak <= limit, f"campaign {campaign_id} had {peak} live calls, limit {limit}"
            parts.append(f"{peak}/{limit}")
        figures.peak_vs_limit = " ".join(parts)
        figures.longest_dial_gap_s = longest_gap(placed)

    def outage_lasted(self, seconds: float) -> None:
        """Note that a server the services need was away this long: a session tries again
        every LONGEST_RESTART_PAUSE_S meanwhile, which is no restart loop."""
        self._outage_s += seconds

    def _check_no_restart_loop(self) -> None:
        now = self._session_restarts()
        allowed = SESSION_RESTARTS_PER_FAULT * max(len(self.fault_times), 1)
        # At least one pause of LONGEST_RESTART_PAUSE_S (less its jitter) between two tries.
        allowed += math.ceil(self._outage_s / (0.8 * LONGEST_RESTART_PAUSE_S))
        for name, count in now.items():
            extra = count - self._restarts_before.get(name, 0)
            assert extra <= allowed, f"{name} restarted its session {extra} times"
        for name, service in self.stack.services.items():
            assert service.process.poll() is None, f"{name} exited:\n{service.log_tail()}"

    async def _check_broker(self, figures: Figures) -> None:
        assert self._warm_broker is not None
        before = self._warm_broker

        async def same() -> BrokerState | None:
            now = await self.management.state()
            return now if now == before else None

        try:
            await wait_until(same, timeout=30, interval=1, message="the broker back as before")
        except AssertionError:
            now = await self.management.state()
            raise AssertionError(
                f"broker before: {before.describe()} {sorted(before.queues)}"
                f" {before.channels_by_connection} {before.consumers_by_queue};"
                f" after: {now.describe()} {sorted(now.queues)} {now.channels_by_connection}"
                f" {now.consumers_by_queue}"
            ) from None
        figures.broker = f"yes ({before.describe()})"

    async def _check_resources(self, figures: Figures) -> None:
        """Within bounds once idle: pooled connections (the Twilio adapter keeps its HTTP
        connections alive for 30 s) may take that long to be let go."""
        over: list[str] = []

        def measure() -> tuple[list[float], list[int]]:
            over.clear()
            growth_mb: list[float] = []
            growth_fd: list[int] = []
            for name, service in self._processes().items():
                warm = self._warm_use.get(name) or self._warm_use.get(
                    _kind_of(name, self._warm_use)
                )
                if warm is None:
                    continue
                now = process_use(service.process.pid)
                if now.rss_mb - warm.rss_mb > max(RSS_BOUND_MB, warm.rss_mb * RSS_BOUND_SHARE):
                    over.append(f"{name}: RSS {warm.rss_mb:.0f} -> {now.rss_mb:.0f} MB")
                if now.open_files - warm.open_files > FD_BOUND:
                    over.append(f"{name}: open files {warm.open_files} -> {now.open_files}")
                growth_mb.append(now.rss_mb - warm.rss_mb)
                growth_fd.append(now.open_files - warm.open_files)
            return growth_mb, growth_fd

        async def within() -> bool:
            measure()
            return not over

        try:
            await wait_until(within, timeout=45, interval=1, message="resources within bounds")
        except AssertionError:
            raise AssertionError("; ".join(over)) from None
        growth_mb, growth_fd = measure()
        figures.rss_growth_mb = max(growth_mb, default=0.0)
        figures.fd_growth = max(growth_fd, default=0)
        connections = await self.db.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        )
        figures.notes.append(f"{connections} database connections")


class Prober:
    """A client that keeps using the api while a fault lasts: reads, a change that needs the
    broker, a campaign created, a carrier's signed result. Every answer must be a success or a
    refusal of the client's request, or 503 with Retry-After: never another 5xx."""

    def __init__(self, run: FaultRun) -> None:
        self.run = run
        self.answers: Counter[tuple[str, int]] = Counter()
        self.problems: list[str] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def __enter__(self) -> Prober:
        self._task = asyncio.create_task(self._probe())
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()

    async def finished(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
        assert not self.problems, "; ".join(self.problems[:5])

    async def _probe(self) -> None:
        campaign = self.run.campaigns[0]["id"]
        raw = json.dumps({"externalCallId": "mock-unknown", "status": "completed"}).encode()
        probes: list[tuple[str, str, str, dict[str, Any]]] = [
            ("read", "GET", f"/api/v1/campaigns/{campaign}", {}),
            ("list", "GET", "/api/v1/campaigns?size=5", {}),
            ("metrics", "GET", "/api/v1/metrics", {}),
            ("pause", "POST", f"/api/v1/campaigns/{campaign}/resume", {}),
            ("create", "POST", "/api/v1/campaigns", {"json": {"name": "probe"}}),
            (
                "callback",
                "POST",
                "/api/v1/calls/callback",
                {
                    "data": raw,
                    "headers": {
                        "X-Signature": sign(TEST_CALLBACK_SECRET, raw),
                        "Content-Type": "application/json",
                    },
                },
            ),
        ]
        while not self._stop.is_set():
            for kind, method, path, options in probes:
                try:
                    response = await self.run.api.request(method, path, **options)
                except aiohttp.ClientError:
                    continue  # the api itself is up in these scenarios; a reset is the network
                self.answers[(kind, response.status)] += 1
                if response.status >= 500 and (
                    response.status != 503 or "Retry-After" not in response.headers
                ):
                    self.problems.append(f"{kind}: {response.status} {response.body}")
            await asyncio.sleep(0.1)  # a client's pace


def _kind_of(name: str, warm: dict[str, ProcessUse]) -> str:
    """A replacement's warm figures are those of a process of the same kind."""
    prefix = name.rsplit("-", 1)[0]
    return next((n for n in warm if n.startswith(prefix)), name)


def assert_never_two_live_calls_per_number(dials: list[dict[str, Any]]) -> None:
    spans: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for dial in dials:
        if dial["endedAt"]:
            spans[dial["phoneNumber"]].append(
                (
                    datetime.fromisoformat(dial["receivedAt"]),
                    datetime.fromisoformat(dial["endedAt"]),
                )
            )
    for number, intervals in spans.items():
        intervals.sort()
        for (_, previous_end), (next_start, _) in itertools.pairwise(intervals):
            assert next_start >= previous_end, f"{number} was in two live calls at once"


def peak_live_calls(dials: list[dict[str, Any]]) -> dict[str, int]:
    """The most calls each campaign had live at once at the carrier, from its records."""
    events: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
    for dial in dials:
        if dial["endedAt"]:
            events[dial["campaignId"]].append((datetime.fromisoformat(dial["receivedAt"]), 1))
            events[dial["campaignId"]].append((datetime.fromisoformat(dial["endedAt"]), -1))
    peaks = {}
    for campaign_id, changes in events.items():
        live = peak = 0
        # An end and a start at the same instant: the end first.
        for _, change in sorted(changes, key=lambda e: (e[0], e[1])):
            live += change
            peak = max(peak, live)
        peaks[campaign_id] = peak
    return peaks


def longest_gap(dials: list[dict[str, Any]]) -> float:
    """The longest time between two dials the carrier received: how long a fault paused."""
    times = sorted(datetime.fromisoformat(d["receivedAt"]) for d in dials)
    return max(((b - a).total_seconds() for a, b in itertools.pairwise(times)), default=0.0)


@asynccontextmanager
async def fault_run(name: str, tmp_path_factory: Any, **options: Any) -> AsyncIterator[FaultRun]:
    log_dir: Path = tmp_path_factory.mktemp(f"faults-{name}")
    async with FaultRun(name, log_dir, **options) as run:
        yield run


async def every(interval_s: float, times: int, action: Callable[[int], Any]) -> None:
    """Run `action(i)` `times` times, `interval_s` apart: the faults' own schedule."""
    for index in range(times):
        await asyncio.sleep(interval_s)  # the schedule of the faults, not a synchronisation
        await action(index)
