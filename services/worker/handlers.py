"""What the worker does with each message it receives. HANDLERS lists them all."""

from __future__ import annotations

import contextlib
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import structlog

from services.worker.telephony.base import DialRequest, HangUpRequest
from services.worker.telephony.resilience import DialAbandoned
from shared.amqp import Handler
from shared.attempt_signals import signal_attempt_ended, signal_hang_up
from shared.domain.attempts import AttemptRef, NoDial, StartedAttempt
from shared.domain.endings import EndEffect, Ending, ProviderReport, outcome_of
from shared.domain.statuses import AttemptOutcome
from shared.errors import (
    ProviderError,
    ProviderOutcomeUnknown,
    ProviderRejected,
    ProviderUnavailable,
    TransientError,
)
from shared.messages import (
    AttemptEnded,
    CallResultReported,
    CallsAdded,
    CampaignCancelled,
    CampaignEvent,
    CampaignFinished,
    CampaignPaused,
    CampaignResumed,
    CampaignStarted,
    CampaignUpdated,
    HangUpCall,
    LeaseLine,
    Message,
)

if TYPE_CHECKING:
    from services.worker.bootstrap import Deps

log = structlog.get_logger()


async def lease_line(job: LeaseLine, deps: Deps) -> None:
    """Hold a line of the campaign: dial its most urgent number, wait for that call to end,
    and go on with the next, until there is nothing to dial, the campaign may not take the
    line any more, or the lease is up (a `one_call` job: after one call). Returning lets the
    consumer acknowledge the job.

    A redelivered job whose attempt is still open never dials it again: it waits for it.
    """
    lease_ends = time.monotonic() + deps.settings.line_lease_ms / 1000
    lease_version: int | None = None
    for _ in range(deps.settings.line_lease_calls):
        if deps.draining.is_set() or time.monotonic() > lease_ends:
            return
        async with deps.dialer.admission():
            started = await _start(job, deps, lease_version)
            if isinstance(started, StartedAttempt):
                deps.held.hold(started.ref)
                with _bound(started):
                    await _dial(started, deps)
        if started is NoDial.JOB_STARTED:
            adopted = await deps.writes.adopt_job_attempt(job.message_id)
            if adopted is not None:
                log.info("adopted the attempt of a redelivered job", call_id=str(adopted.call_id))
                await deps.held.wait(adopted)
            continue
        if started is NoDial.NUMBERS_BARRED:
            deps.metrics.claims.labels(started.name.lower()).inc()
            continue
        if isinstance(started, NoDial):
            deps.metrics.claims.labels(started.name.lower()).inc()
            log.debug("line released", reason=started.value)
            return
        deps.metrics.claims.labels("dialled").inc()
        lease_version = started.settings_version
        with _bound(started):
            await deps.held.wait(started.ref)
        if job.one_call:
            return


def _bound(started: StartedAttempt) -> contextlib.AbstractContextManager[Any]:
    return structlog.contextvars.bound_contextvars(
        call_id=str(started.ref.call_id), attempt_no=started.ref.attempt_no
    )


async def _start(job: LeaseLine, deps: Deps, lease_version: int | None) -> StartedAttempt | NoDial:
    fresh = False
    while True:
        rules = await deps.dial_rules.get(job.campaign_id, fresh=fresh)
        if rules is None:
            return NoDial.NO_FREE_LINE
        if lease_version is not None and rules.version != lease_version:
            # A lease ends when the settings change: the next job follows the new ones (a
            # new pace, say, which decides whether jobs hold their line for several calls).
            return NoDial.RULES_CHANGED
        started = await deps.claims.submit(
            (rules.campaign_id, rules.version), (rules, job.message_id)
        )
        if started is not NoDial.RULES_CHANGED or fresh:
            return started
        fresh = True


async def _dial(started: StartedAttempt, deps: Deps) -> None:
    request = DialRequest(
        started.ref.call_id,
        started.ref.attempt_no,
        started.campaign_id,
        started.phone_number,
        machine_detection=started.machine_detection,
    )
    metrics = deps.metrics
    callback_timeout = timedelta(milliseconds=started.retry.callback_timeout_ms)

    async def still_open() -> bool:
        # A retry after a backoff: the attempt's deadline moves past this try, unless the
        # watchdog has already ended it.
        expected_by = deps.clock() + deps.dial_window + callback_timeout
        return await deps.writes.extend_open_attempt(started.ref, expected_by)

    try:
        with metrics.dial_seconds.time():
            external_id = await deps.dialer.place_call(request, started.retry, still_open)
    except DialAbandoned as exc:
        metrics.dials.labels("abandoned").inc()
        log.warning("dial abandoned", reason=str(exc))
    except ProviderRejected as exc:
        metrics.dials.labels("rejected").inc()
        log.info("provider rejected the number", reason=exc.detail)
        await _end_by_worker(started.ref, Ending(AttemptOutcome.REJECTED, exc.detail), deps)
    except ProviderUnavailable as exc:
        metrics.dials.labels("unavailable").inc()
        log.warning("call not placed, provider unavailable", reason=exc.detail)
        await _end_by_worker(started.ref, Ending(AttemptOutcome.NOT_PLACED, exc.detail), deps)
        await deps.writes.uncount_unplaced(started.ref)
    except ProviderOutcomeUnknown as exc:
        metrics.dials.labels("unknown").inc()
        # The call may be ringing: never dial this attempt again. Its callback or the
        # watchdog ends it.
        log.warning(
            "dial outcome unknown; waiting for a callback or the timeout", reason=exc.detail
        )
    else:
        metrics.dials.labels("placed").inc()
        await deps.accepted_dials.submit((started.ref, external_id))
        log.info("call placed", external_call_id=external_id)


async def _end_by_worker(ref: AttemptRef, ending: Ending, deps: Deps) -> None:
    effect = await deps.writes.end_attempt(ref, ending)
    if effect is not None:
        await _tell_holder(effect, deps)


async def record_result(report: CallResultReported, deps: Deps) -> None:
    """Apply a carrier's result, then tell the worker holding the attempt's job."""
    provider_report = ProviderReport(
        external_call_id=report.external_call_id,
        status=report.status,
        ref=AttemptRef(report.call_id, report.attempt_no)
        if report.call_id is not None and report.attempt_no is not None
        else None,
        duration_seconds=report.duration_seconds,
        failure_reason=report.failure_reason,
        answered_by=report.answered_by,
    )
    effect = await deps.results.submit(provider_report)
    if effect is None:
        log.warning("result for an unknown call", external_call_id=report.external_call_id)
        return
    if not effect.applied:
        log.info("duplicate result ignored", call_id=str(effect.ref.call_id))
        return
    if effect.machine_hang_up is not None:
        await _hang_up_on_machine(effect, deps)
    if outcome_of(report.status) is None:
        # Progress (a machine's answer, said at once): no result to count, no line to free.
        log.info("call progress recorded", provider_status=report.status)
        return
    deps.metrics.results.labels(str(effect.call_status)).inc()
    held_for = deps.held.held_for(effect.ref)
    if held_for is not None:
        deps.metrics.callback_seconds.observe(held_for)
    log.info(
        "call result recorded",
        call_id=str(effect.ref.call_id),
        provider_status=report.status,
        call_status=effect.call_status,
    )
    await _tell_holder(effect, deps)


async def _tell_holder(effect: EndEffect, deps: Deps) -> None:
    if effect.released_line and effect.worker_id == deps.worker_id:
        deps.held.release(effect.ref)
    else:
        await signal_attempt_ended(deps.hints, effect)


async def _hang_up_on_machine(effect: EndEffect, deps: Deps) -> None:
    """A machine answered a call whose campaign hangs up on machines: hang up if this worker
    holds the call, else ask the worker that does."""
    assert effect.machine_hang_up is not None
    if effect.worker_id != deps.worker_id:
        await signal_hang_up(deps.hints, effect)
        return
    ref = effect.ref
    await _hang_up(
        HangUpRequest(ref.call_id, ref.attempt_no, effect.campaign_id, effect.machine_hang_up),
        deps,
    )


async def hang_up_call(command: HangUpCall, deps: Deps) -> None:
    """Another process saw a machine answer a call this worker placed: hang it up."""
    with structlog.contextvars.bound_contextvars(
        call_id=str(command.call_id), attempt_no=command.attempt_no
    ):
        await _hang_up(
            HangUpRequest(
                command.call_id, command.attempt_no, command.campaign_id, command.external_call_id
            ),
            deps,
        )


async def _hang_up(request: HangUpRequest, deps: Deps) -> None:
    # Best effort: if the provider cannot be asked, the call runs until the carrier ends it,
    # and ends with the same outcome (PERMANENTLY_FAILED, MACHINE).
    try:
        await deps.dialer.provider.hang_up(request)
    except (ProviderError, TransientError) as exc:
        deps.metrics.machine_hang_ups.labels("failed").inc()
        log.warning("could not hang up on a machine", reason=exc.detail)
        return
    deps.metrics.machine_hang_ups.labels("asked").inc()
    log.info("hung up on a machine", external_call_id=request.external_call_id)


async def release_attempt(signal: AttemptEnded, deps: Deps) -> None:
    deps.held.release(AttemptRef(signal.call_id, signal.attempt_no))


async def follow_campaign(event: CampaignEvent, deps: Deps) -> None:
    deps.dial_rules.forget(event.campaign_id)
    deps.subscriptions.refresh_soon()


#: Every message the worker reacts to: jobs from the campaign queues, results from its own
#: and the shared results queue, signals from its signals queue, and campaign events.
HANDLERS: dict[type[Message], Handler[Deps]] = {
    LeaseLine: lease_line,
    CallResultReported: record_result,
    AttemptEnded: release_attempt,
    HangUpCall: hang_up_call,
    CampaignStarted: follow_campaign,
    CampaignPaused: follow_campaign,
    CampaignResumed: follow_campaign,
    CampaignCancelled: follow_campaign,
    CampaignFinished: follow_campaign,
    CampaignUpdated: follow_campaign,
    CallsAdded: follow_campaign,
}

#: Messages the worker's queues may carry that it acknowledges without acting: none today.
IGNORED: frozenset[type[Message]] = frozenset()
