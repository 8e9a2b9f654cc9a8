"""The worker's handlers with fakes for the dialer, the batchers and the writes: what a job
dials, what each dial outcome writes, and what a result report releases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from services.worker.bootstrap import Deps
from services.worker.handlers import (
    follow_campaign,
    hang_up_call,
    lease_line,
    record_result,
    release_attempt,
)
from services.worker.held_attempts import HeldAttempts
from services.worker.metrics import WorkerMetrics
from services.worker.telephony.base import DialRequest, HangUpRequest
from shared.domain.attempts import AttemptRef, DialRules, NoDial, StartedAttempt
from shared.domain.endings import EndEffect, Ending, ProviderReport
from shared.domain.retry_policy import RetryConfig
from shared.domain.statuses import AttemptOutcome, CallStatus
from shared.errors import ProviderOutcomeUnknown, ProviderRejected, ProviderUnavailable
from shared.messages import (
    AttemptEnded,
    CallResultReported,
    CampaignPaused,
    HangUpCall,
    LeaseLine,
    Message,
)
from shared.settings import Settings
from shared.topology import WORKER_SIGNALS

WORKER = "worker-1"
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
DIAL_WINDOW = timedelta(seconds=2)
RETRY = RetryConfig(
    max_retries=3,
    sync_initial_backoff_ms=20,
    sync_backoff_multiplier=2.0,
    callback_retry_delay_ms=0,
    callback_timeout_ms=30_000,
)
#: Long enough for a loaded machine, short enough that a hang fails quickly.
DEADLINE_S = 5.0


class FakeProvider:
    """What the handlers use of the provider itself: hang-ups, kept (or refused)."""

    def __init__(self, refuse: Exception | None = None) -> None:
        self.refuse = refuse
        self.hung_up: list[HangUpRequest] = []

    async def hang_up(self, request: HangUpRequest) -> None:
        if self.refuse is not None:
            raise self.refuse
        self.hung_up.append(request)


class FakeDialer:
    """The Dialer's interface: `admission()` and `place_call`, answering from a script."""

    def __init__(self, *script: str | Exception, retries: int = 0) -> None:
        self.script = list(script)
        self.retries = retries
        self.requests: list[DialRequest] = []
        self.provider = FakeProvider()

    @asynccontextmanager
    async def admission(self) -> AsyncIterator[None]:
        yield

    async def place_call(
        self,
        request: DialRequest,
        retry: RetryConfig,
        still_open: Callable[[], Awaitable[bool]] | None = None,
    ) -> str:
        self.requests.append(request)
        # The real dialer asks before each try after the first.
        for _ in range(self.retries):
            assert still_open is not None
            await still_open()
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


class FakeBatcher:
    """A Batcher's interface: `submit(item)`, answered by `answer`, every item kept."""

    def __init__(self, answer: Callable[[Any], Any] = lambda item: None) -> None:
        self.answer = answer
        self.items: list[Any] = []
        self.submitted = asyncio.Event()

    async def submit(self, item: Any) -> Any:
        self.items.append(item)
        self.submitted.set()
        return self.answer(item)


class FakeClaims:
    """The KeyedBatcher's interface: `submit(key, item)`, answering claims from a script."""

    def __init__(self, *script: StartedAttempt | NoDial) -> None:
        self.script = list(script)
        self.claimed: list[tuple[tuple[UUID, int], tuple[DialRules, UUID]]] = []

    async def submit(
        self, key: tuple[UUID, int], item: tuple[DialRules, UUID]
    ) -> StartedAttempt | NoDial:
        self.claimed.append((key, item))
        return self.script.pop(0) if self.script else NoDial.NOTHING_TO_DIAL


class FakeWrites:
    """AttemptWrites' interface for the handlers' own writes; an ended attempt released the
    line of the job this worker holds, unless told otherwise."""

    def __init__(self, *, adopts: AttemptRef | None = None, holder: str = WORKER) -> None:
        self.adopts = adopts
        self.holder = holder
        self.ended: list[tuple[AttemptRef, Ending]] = []
        self.extended: list[tuple[AttemptRef, datetime]] = []
        self.uncounted: list[AttemptRef] = []

    async def adopt_job_attempt(self, job_id: UUID) -> AttemptRef | None:
        return self.adopts

    async def extend_open_attempt(self, ref: AttemptRef, expected_by: datetime) -> bool:
        self.extended.append((ref, expected_by))
        return True

    async def end_attempt(self, ref: AttemptRef, ending: Ending) -> EndEffect | None:
        self.ended.append((ref, ending))
        return effect(ref, worker_id=self.holder, call_status=CallStatus.FAILED)

    async def uncount_unplaced(self, ref: AttemptRef) -> None:
        self.uncounted.append(ref)


class FakeDialRules:
    def __init__(self, rules: DialRules | None) -> None:
        self.rules = rules
        self.asked: list[bool] = []
        self.forgotten: list[UUID] = []

    async def get(self, campaign_id: UUID, *, fresh: bool = False) -> DialRules | None:
        self.asked.append(fresh)
        return self.rules

    def forget(self, campaign_id: UUID) -> None:
        self.forgotten.append(campaign_id)


class FakeSubscriptions:
    def __init__(self) -> None:
        self.refreshes = 0

    def refresh_soon(self) -> None:
        self.refreshes += 1


class FakePublisher:
    """The Publisher's interface: what was published, where."""

    def __init__(self) -> None:
        self.published: list[tuple[Message, str, str]] = []

    async def publish(self, message: Message, exchange: str, routing_key: str, **_: Any) -> None:
        self.published.append((message, exchange, routing_key))


CAMPAIGN = uuid4()
RULES = DialRules(CAMPAIGN, 7, RETRY)


def started(attempt_no: int = 1) -> StartedAttempt:
    return StartedAttempt(AttemptRef(uuid4(), attempt_no), CAMPAIGN, "+15550001111", RETRY, 7)


def effect(
    ref: AttemptRef,
    *,
    worker_id: str = WORKER,
    applied: bool = True,
    released_line: bool = True,
    call_status: CallStatus | None = CallStatus.COMPLETED,
) -> EndEffect:
    return EndEffect(ref, CAMPAIGN, worker_id, applied, released_line, call_status)


def make_deps(
    *,
    dialer: FakeDialer | None = None,
    claims: FakeClaims | None = None,
    writes: FakeWrites | None = None,
    results: FakeBatcher | None = None,
    rules: DialRules | None = RULES,
) -> Deps:
    # The fakes implement what the handlers use of each collaborator; the rest stay unset.
    return Deps(
        settings=Settings(line_lease_calls=100, line_lease_ms=60_000),
        worker_id=WORKER,
        pool=None,  # type: ignore[arg-type]  # the handlers reach the database through writes
        connection=None,  # type: ignore[arg-type]
        publisher=None,  # type: ignore[arg-type]
        hints=FakePublisher(),  # type: ignore[arg-type]
        dialer=dialer or FakeDialer(),  # type: ignore[arg-type]
        held=HeldAttempts(),
        channels=None,  # type: ignore[arg-type]
        subscriptions=FakeSubscriptions(),  # type: ignore[arg-type]
        dial_rules=FakeDialRules(rules),  # type: ignore[arg-type]
        writes=writes or FakeWrites(),  # type: ignore[arg-type]
        claims=claims or FakeClaims(),  # type: ignore[arg-type]
        results=results or FakeBatcher(),  # type: ignore[arg-type]
        accepted_dials=FakeBatcher(),  # type: ignore[arg-type]
        clock=lambda: NOW,
        dial_window=DIAL_WINDOW,
        draining=asyncio.Event(),
        metrics=WorkerMetrics.create(),
    )


def count(deps: Deps, name: str, **labels: str) -> float:
    return deps.metrics.registry.get_sample_value(name, labels) or 0.0


def result_for(ref: AttemptRef, status: Any = "COMPLETED") -> CallResultReported:
    return CallResultReported(
        external_call_id="carrier-1",
        status=status,
        call_id=ref.call_id,
        attempt_no=ref.attempt_no,
        duration_seconds=12,
    )


async def until_done(task: asyncio.Task[None]) -> None:
    await asyncio.wait_for(task, DEADLINE_S)


async def eventually(condition: Callable[[], bool]) -> None:
    """Until `condition` holds, letting the handler under test run; fails past the deadline."""
    async with asyncio.timeout(DEADLINE_S):
        while not condition():
            await asyncio.sleep(0)


async def test_an_accepted_dial_holds_the_line_until_its_result_is_applied() -> None:
    attempt = started()
    results = FakeBatcher(lambda report: effect(report.ref))
    deps = make_deps(dialer=FakeDialer("carrier-1"), claims=FakeClaims(attempt), results=results)
    job = LeaseLine(campaign_id=CAMPAIGN)

    holding = asyncio.create_task(lease_line(job, deps))
    accepted = deps.accepted_dials
    await asyncio.wait_for(accepted.submitted.wait(), DEADLINE_S)
    assert accepted.items == [(attempt.ref, "carrier-1")]
    assert deps.dialer.requests == [DialRequest(attempt.ref.call_id, 1, CAMPAIGN, "+15550001111")]
    assert not holding.done(), "the job holds its line while the call runs"

    await record_result(result_for(attempt.ref), deps)
    await until_done(holding)  # the next claim found nothing to dial: the line goes back

    [report] = results.items
    assert report == ProviderReport(
        external_call_id="carrier-1", status="COMPLETED", ref=attempt.ref, duration_seconds=12
    )
    claims: FakeClaims = deps.claims
    assert [item for _, item in claims.claimed] == [(RULES, job.message_id)] * 2
    assert claims.claimed[0][0] == (CAMPAIGN, 7)
    assert count(deps, "vcs_dials_total", outcome="placed") == 1
    assert count(deps, "vcs_line_claims_total", result="dialled") == 1
    assert count(deps, "vcs_line_claims_total", result="nothing_to_dial") == 1
    assert count(deps, "vcs_call_results_total", status="COMPLETED") == 1
    assert deps.hints.published == []
    assert len(deps.held) == 0


async def test_a_permanently_refused_dial_ends_its_attempt_as_rejected() -> None:
    attempt = started()
    writes = FakeWrites()
    deps = make_deps(
        dialer=FakeDialer(ProviderRejected("not a valid number")),
        claims=FakeClaims(attempt),
        writes=writes,
    )
    await asyncio.wait_for(lease_line(LeaseLine(campaign_id=CAMPAIGN), deps), DEADLINE_S)
    assert writes.ended == [(attempt.ref, Ending(AttemptOutcome.REJECTED, "not a valid number"))]
    assert deps.accepted_dials.items == []
    assert count(deps, "vcs_dials_total", outcome="rejected") == 1


async def test_a_transient_dial_failure_ends_its_attempt_as_not_placed() -> None:
    attempt = started()
    writes = FakeWrites()
    deps = make_deps(
        dialer=FakeDialer(ProviderUnavailable("carrier answered 503"), retries=1),
        claims=FakeClaims(attempt),
        writes=writes,
    )
    await asyncio.wait_for(lease_line(LeaseLine(campaign_id=CAMPAIGN), deps), DEADLINE_S)
    assert writes.ended == [
        (attempt.ref, Ending(AttemptOutcome.NOT_PLACED, "carrier answered 503"))
    ]
    # It never reached the carrier: it does not count against the number's caps.
    assert writes.uncounted == [attempt.ref]
    # Before its retry, the attempt's deadline moved past the try.
    assert writes.extended == [
        (attempt.ref, NOW + DIAL_WINDOW + timedelta(milliseconds=RETRY.callback_timeout_ms))
    ]
    assert count(deps, "vcs_dials_total", outcome="unavailable") == 1


async def test_an_ended_attempt_held_for_another_worker_is_signalled_to_it() -> None:
    # The attempt's job moved to another worker (a redelivery): it is told to let go.
    attempt = started()
    deps = make_deps(
        dialer=FakeDialer(ProviderUnavailable("503")),
        claims=FakeClaims(attempt),
        writes=FakeWrites(holder="worker-2"),
    )
    job = asyncio.create_task(lease_line(LeaseLine(campaign_id=CAMPAIGN, one_call=True), deps))
    hints: FakePublisher = deps.hints
    await eventually(lambda: bool(hints.published))
    [(signal, exchange, route)] = hints.published
    assert (exchange, route) == (WORKER_SIGNALS, "worker-2")
    assert signal == AttemptEnded(
        campaign_id=CAMPAIGN,
        call_id=attempt.ref.call_id,
        attempt_no=1,
        message_id=signal.message_id,
        occurred_at=signal.occurred_at,
    )
    deps.held.release(attempt.ref)
    await until_done(job)


async def test_a_dial_of_unknown_fate_ends_nothing_and_waits_for_the_callback() -> None:
    attempt = started()
    writes = FakeWrites()
    deps = make_deps(
        dialer=FakeDialer(ProviderOutcomeUnknown("no answer within 5 s")),
        claims=FakeClaims(attempt),
        writes=writes,
    )
    holding = asyncio.create_task(lease_line(LeaseLine(campaign_id=CAMPAIGN), deps))
    await eventually(lambda: count(deps, "vcs_dials_total", outcome="unknown") == 1)
    assert not holding.done()
    assert writes.ended == []
    # The watchdog or a callback ends it, and the holder hears through a signal.
    await release_attempt(
        AttemptEnded(campaign_id=CAMPAIGN, call_id=attempt.ref.call_id, attempt_no=1), deps
    )
    await until_done(holding)
    assert deps.accepted_dials.items == []


@pytest.mark.parametrize("no_dial", [NoDial.NOTHING_TO_DIAL, NoDial.NO_FREE_LINE])
async def test_a_claim_that_says_no_dial_releases_the_line_without_dialling(
    no_dial: NoDial,
) -> None:
    deps = make_deps(claims=FakeClaims(no_dial))
    await asyncio.wait_for(lease_line(LeaseLine(campaign_id=CAMPAIGN), deps), DEADLINE_S)
    assert deps.dialer.requests == []
    assert count(deps, "vcs_line_claims_total", result=no_dial.name.lower()) == 1


async def test_a_campaign_with_no_rules_dials_nothing() -> None:
    deps = make_deps(rules=None)
    await asyncio.wait_for(lease_line(LeaseLine(campaign_id=CAMPAIGN), deps), DEADLINE_S)
    assert deps.claims.claimed == []
    assert count(deps, "vcs_line_claims_total", result="no_free_line") == 1


async def test_changed_rules_are_read_afresh_once_before_the_claim_is_given_up() -> None:
    attempt = started()
    deps = make_deps(
        dialer=FakeDialer("carrier-1"), claims=FakeClaims(NoDial.RULES_CHANGED, attempt)
    )
    job = asyncio.create_task(lease_line(LeaseLine(campaign_id=CAMPAIGN, one_call=True), deps))
    await asyncio.wait_for(deps.accepted_dials.submitted.wait(), DEADLINE_S)
    assert deps.dial_rules.asked == [False, True]
    deps.held.release(attempt.ref)
    await until_done(job)


async def test_a_redelivered_job_waits_for_the_attempt_it_already_started() -> None:
    earlier = AttemptRef(uuid4(), 2)
    deps = make_deps(claims=FakeClaims(NoDial.JOB_STARTED), writes=FakeWrites(adopts=earlier))
    job = asyncio.create_task(lease_line(LeaseLine(campaign_id=CAMPAIGN), deps))
    await eventually(lambda: earlier in deps.held.refs())
    assert deps.dialer.requests == []
    deps.held.release(earlier)
    await until_done(job)  # then it claims again, finds nothing, and lets go
    assert len(deps.claims.claimed) == 2


async def test_a_draining_worker_takes_no_new_call() -> None:
    deps = make_deps(claims=FakeClaims(started()))
    deps.draining.set()
    await lease_line(LeaseLine(campaign_id=CAMPAIGN), deps)
    assert deps.claims.claimed == []


async def test_a_result_for_an_attempt_held_elsewhere_is_signalled_to_its_holder() -> None:
    ref = AttemptRef(uuid4(), 1)
    results = FakeBatcher(lambda report: effect(report.ref, worker_id="worker-2"))
    deps = make_deps(results=results)
    await record_result(result_for(ref, "BUSY"), deps)
    [(signal, exchange, route)] = deps.hints.published
    assert (exchange, route) == (WORKER_SIGNALS, "worker-2")
    assert isinstance(signal, AttemptEnded) and signal.call_id == ref.call_id


@pytest.mark.parametrize(
    "answer",
    [
        lambda report: None,  # no attempt has that carrier id
        lambda report: effect(report.ref, applied=False),  # a duplicate
    ],
    ids=["unknown call", "duplicate"],
)
async def test_an_unknown_or_duplicate_result_releases_nothing(
    answer: Callable[[ProviderReport], EndEffect | None],
) -> None:
    ref = AttemptRef(uuid4(), 1)
    deps = make_deps(results=FakeBatcher(answer))
    ended = deps.held.hold(ref)
    await record_result(result_for(ref), deps)
    assert not ended.is_set()
    assert deps.hints.published == []
    assert count(deps, "vcs_call_results_total", status="COMPLETED") == 0


async def test_a_result_without_our_reference_is_matched_by_the_carrier_id_alone() -> None:
    results = FakeBatcher(lambda report: None)
    deps = make_deps(results=results)
    await record_result(CallResultReported(external_call_id="carrier-9", status="FAILED"), deps)
    assert results.items == [ProviderReport(external_call_id="carrier-9", status="FAILED")]


async def test_a_campaign_event_drops_the_cached_rules_and_refreshes_subscriptions() -> None:
    deps = make_deps()
    await follow_campaign(CampaignPaused(campaign_id=CAMPAIGN), deps)
    assert deps.dial_rules.forgotten == [CAMPAIGN]
    assert deps.subscriptions.refreshes == 1


# -- answering machines ------------------------------------------------------------------------


async def test_a_campaign_that_detects_machines_asks_the_provider_to() -> None:
    attempt = replace(started(), machine_detection=True)
    dialer = FakeDialer("carrier-1")
    deps = make_deps(dialer=dialer, claims=FakeClaims(attempt))
    job = asyncio.create_task(lease_line(LeaseLine(campaign_id=CAMPAIGN, one_call=True), deps))
    await eventually(lambda: len(dialer.requests) == 1)
    assert dialer.requests[0].machine_detection is True
    deps.held.release(attempt.ref)
    await until_done(job)


def machine_answered(ref: AttemptRef, worker_id: str = WORKER) -> EndEffect:
    """A progress report's effect: a machine answered, and the campaign hangs up on them."""
    return replace(
        effect(ref, worker_id=worker_id, released_line=False, call_status=None),
        machine_hang_up="carrier-1",
    )


async def test_a_machine_on_a_call_held_here_is_hung_up_at_once() -> None:
    ref = AttemptRef(uuid4(), 1)
    deps = make_deps(results=FakeBatcher(lambda report: machine_answered(report.ref)))
    await record_result(result_for(ref, "IN_PROGRESS"), deps)
    provider = deps.dialer.provider  # type: ignore[attr-defined]
    assert provider.hung_up == [HangUpRequest(ref.call_id, 1, CAMPAIGN, "carrier-1")]
    assert count(deps, "vcs_machine_hang_ups_total", result="asked") == 1
    assert deps.hints.published == []


async def test_a_machine_on_a_call_held_elsewhere_is_hung_up_by_its_holder() -> None:
    ref = AttemptRef(uuid4(), 1)
    answer = FakeBatcher(lambda report: machine_answered(report.ref, "worker-2"))
    deps = make_deps(results=answer)
    await record_result(result_for(ref, "IN_PROGRESS"), deps)
    [(signal, exchange, route)] = deps.hints.published
    assert (exchange, route) == (WORKER_SIGNALS, "worker-2")
    assert isinstance(signal, HangUpCall) and signal.external_call_id == "carrier-1"
    assert deps.dialer.provider.hung_up == []  # type: ignore[attr-defined]


async def test_a_hang_up_asked_of_this_worker_goes_to_its_provider() -> None:
    deps = make_deps()
    ref = AttemptRef(uuid4(), 2)
    await hang_up_call(
        HangUpCall(
            campaign_id=CAMPAIGN,
            call_id=ref.call_id,
            attempt_no=2,
            external_call_id="carrier-7",
        ),
        deps,
    )
    provider = deps.dialer.provider  # type: ignore[attr-defined]
    assert provider.hung_up == [HangUpRequest(ref.call_id, 2, CAMPAIGN, "carrier-7")]


async def test_a_hang_up_the_provider_refuses_is_counted_not_raised() -> None:
    dialer = FakeDialer()
    dialer.provider = FakeProvider(refuse=ProviderUnavailable("carrier away"))
    deps = make_deps(dialer=dialer)
    command = HangUpCall(
        campaign_id=CAMPAIGN, call_id=uuid4(), attempt_no=1, external_call_id="carrier-7"
    )
    await hang_up_call(command, deps)
    assert count(deps, "vcs_machine_hang_ups_total", result="failed") == 1
